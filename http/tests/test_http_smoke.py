"""The API answers over verified HTTPS: info, login, an authenticated list."""


def test_info_login_and_users(api):
    with api.client() as client:
        info = client.get("/").json()["data"]
        assert info["title"] == "Wazuh API REST"
    token = api.login()
    with api.client(token) as client:
        users = client.get("/security/users").json()
    assert [u["username"] for u in users["data"]["affected_items"]] == ["wazuh", "wazuh-wui"]
