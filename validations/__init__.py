"""Great Expectations suites, built from config/rules.yaml (one module per source kind)."""
