"""The service-account key can live in a Prefect Secret block instead of a file (a real Prefect API: the test
process's own temporary server)."""

from __future__ import annotations

import json

from flows.config import GoogleSettings
from flows.adapters.google.sheets import READ_SCOPES, connect, credentials_info


def test_the_key_is_read_from_a_prefect_secret_block_when_no_file_is_named(fake, key, monkeypatch) -> None:
    from prefect.blocks.system import Secret

    Secret(value=json.dumps(key)).save("songmaytinh-google-key-test", overwrite=True)
    monkeypatch.delenv("SONGMAYTINH_GOOGLE_KEY", raising=False)
    settings = GoogleSettings.model_validate({"endpoint": fake.url, "credentials_secret": "songmaytinh-google-key-test"})
    info = credentials_info(settings)
    assert info == key
    client = connect(settings, READ_SCOPES, info=info)
    assert client.list_spreadsheet_files() == []  # authorised through the fake token endpoint with that key
