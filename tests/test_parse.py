from ingest.parse import decode_text


def test_text_in_a_legacy_encoding_is_decoded() -> None:
    assert decode_text("Qualifikationsanerkennung für Pflegekräfte".encode("cp1252")) == (
        "Qualifikationsanerkennung für Pflegekräfte"
    )
