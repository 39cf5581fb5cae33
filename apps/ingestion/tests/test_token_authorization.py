import base64

import pytest

from apps.ingestion.tokens.authorization import (
    BEARER_OR_BASIC,
    ELASTIC,
    SPLUNK,
    token_from_authorization,
)

TOKEN = "aiops_Zm9v-bar_baz"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "schemes", "expected"),
    [
        (f"Bearer {TOKEN}", BEARER_OR_BASIC, TOKEN),
        (f"bearer   {TOKEN} ", BEARER_OR_BASIC, TOKEN),
        (basic("loki", TOKEN), BEARER_OR_BASIC, TOKEN),
        (basic("", TOKEN), BEARER_OR_BASIC, TOKEN),
        (basic("user", "pa:ss"), BEARER_OR_BASIC, "pa:ss"),  # the password may hold a colon
        (basic(TOKEN, ""), BEARER_OR_BASIC, None),  # the token goes in the password
        ("Basic not-base64!", BEARER_OR_BASIC, None),
        (f"Splunk {TOKEN}", SPLUNK, TOKEN),
        (f"Splunk {TOKEN}", BEARER_OR_BASIC, None),  # only where HEC is spoken
        (f"ApiKey {TOKEN}", ELASTIC, TOKEN),
        ("ApiKey " + base64.b64encode(f"id1:{TOKEN}".encode()).decode(), ELASTIC, TOKEN),
        (f"Token {TOKEN}", BEARER_OR_BASIC, None),
        ("Bearer", BEARER_OR_BASIC, None),
        ("", BEARER_OR_BASIC, None),
        (None, BEARER_OR_BASIC, None),
    ],
)
def test_token_from_authorization(header, schemes, expected):
    assert token_from_authorization(header, schemes=schemes) == expected
