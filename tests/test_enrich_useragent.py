"""App and device model from User-Agent strings: a table of real-world forms, real captures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from phonehome import simulate
from phonehome.cli import main
from phonehome.enrich.useragent import app_from_user_agent, device_from_user_agent, is_package_name
from tests.conftest import SHARED

DALVIK_NOKIA = "Dalvik/2.1.0 (Linux; U; Android 9; TA-1046 Build/PPR1.180610.011)"
CHROME = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
WEBVIEW = (
    "Mozilla/5.0 (Linux; Android 9; TA-1046 Build/PPR1.180610.011; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/74.0.3729.136 Mobile Safari/537.36"
)
FB4A = (
    "Mozilla/5.0 (Linux; Android 9; SM-G960F Build/PPR1.180610.011; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/74.0.3729.157 Mobile Safari/537.36 "
    "[FBAN/FB4A;FBAV/222.0.0.48.113;FBPN/com.facebook.katana;FBLC/en_US;FBBV/155323366;"
    "FBCR/Telenor;FBMF/samsung;FBBD/samsung;FBDV/SM-G960F;FBSV/9;FBCA/arm64-v8a:;"
    "FBDM/{density=3.0,width=1080,height=2076};FB_FW/1;]"
)
FB_IAB = (
    "Mozilla/5.0 (Linux; Android 11; SM-A505F Build/RP1A.200720.012; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/96.0.4664.104 Mobile Safari/537.36 "
    "[FB_IAB/FB4A;FBAV/348.0.0.39.118;]"
)
FBIOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 14_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone12,1;FBMD/iPhone;FBSN/iOS;"
    "FBSV/14.4;FBSS/2;FBID/phone;FBLC/en_US;FBOP/5]"
)
INSTAGRAM = (
    "Instagram 150.0.0.33.120 Android (28/9; 420dpi; 1080x2131; samsung; SM-G960F; starlte; "
    "samsungexynos9810; en_US; 233091547)"
)
INSTAGRAM_IAB = (
    "Mozilla/5.0 (Linux; Android 10; SM-G973F Build/QP1A.190711.020; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/87.0.4280.101 Mobile Safari/537.36 "
    "Instagram 167.0.0.24.120 Android (29/10; 480dpi; 1080x2042; samsung; SM-G973F; beyond1; "
    "exynos9820; en_GB; 256966589)"
)
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 14_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/14.0.3 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("ua", "app", "model"),
    [
        # platform and library strings name no app
        (DALVIK_NOKIA, None, "TA-1046"),
        ("Dalvik/1.6.0 (Linux; U; Android 4.4.2; SM-G900F Build/KOT49H)", None, "SM-G900F"),
        ("okhttp/3.12.1", None, None),
        ("okhttp/4.9.3", None, None),
        ("Apache-HttpClient/UNAVAILABLE (java 1.4)", None, None),
        ("GoogleAuth/1.4 (TA-1046 PPR1.180610.011); gzip", None, None),
        ("Go-http-client/1.1", None, None),
        (CHROME, None, None),
        (WEBVIEW, None, "TA-1046"),
        (SAFARI, None, None),
        ("", None, None),
        # an Android package as the product token
        (
            "com.google.android.youtube/17.31.35 (Linux; U; Android 12) gzip",
            ["com.google.android.youtube"],
            None,
        ),
        (
            "com.example.app/1.2.3(Linux; U; Android 9; TA-1046 Build/PPR1.180610.011)",
            ["com.example.app"],
            "TA-1046",
        ),
        (DALVIK_NOKIA + " de.telekom.mail/5.1", ["de.telekom.mail"], "TA-1046"),
        ("com.apple.trustd/2.0", ["com.apple.trustd"], None),
        # app names an app states itself: Facebook's fields, Instagram, iOS CFNetwork
        (FB4A, ["com.facebook.katana"], "SM-G960F"),
        (FB_IAB, ["com.facebook.katana"], "SM-A505F"),
        (FBIOS, ["Facebook"], None),
        (INSTAGRAM, ["com.instagram.android"], None),
        (INSTAGRAM_IAB, ["com.instagram.android"], "SM-G973F"),
        ("Instagram 150.0.0.14.119 (iPhone12,1; iOS 14_4; en_US; en-US)", ["Instagram"], None),
        ("My%20Radio/3.1 CFNetwork/1220.1 Darwin/20.3.0", ["My Radio"], None),
        ("Telegram/7.5 CFNetwork/1220.1 Darwin/20.3.0", ["Telegram"], None),
        # not a package: host names, versions, app names without a reverse-domain id
        ("api.example.com/1.0", None, None),
        ("video.example.com/2.1 (Linux; Android 10)", None, None),
        ("Spotify/8.7.78 Android/31 (SM-G991B)", None, None),
        ("1.2.3/4.5", None, None),
        ("WhatsApp/2.21.4.22 A", None, None),
    ],
)
def test_user_agent_table(ua: str, app: list[str] | None, model: str | None) -> None:
    assert app_from_user_agent(ua) == (None if app is None else (app, "user-agent"))
    assert device_from_user_agent(ua) == model


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("com.example.app", True),
        ("com.whatsapp", True),
        ("cn.com.chinatelecom.account", True),
        ("de.telekom.mail", True),
        ("example.com", False),
        ("www.example.org", False),
        ("cloud.example.net", False),
        ("com", False),
        ("com.9gag.android", False),
        ("com..app", False),
        ("com.example.app" + ".x" * 200, False),
    ],
)
def test_package_name_table(token: str, expected: bool) -> None:
    assert is_package_name(token) is expected


def user_agents(capture: Path) -> list[str]:
    result = CliRunner().invoke(main, ["flows", str(capture), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [m["user_agent"] for m in lines if m.get("user_agent")]


def test_simulated_nokia_requests(tmp_path: Path) -> None:
    simulate.run("nokia7plus", tmp_path / "x.pcap")
    agents = set(user_agents(tmp_path / "x.pcap"))
    assert agents
    for ua in agents:
        assert app_from_user_agent(ua) is None  # Dalvik names the phone, not the app
        assert device_from_user_agent(ua) == "TA-1046"


def test_real_android_checkin_capture() -> None:
    capture = SHARED / "fixtures/real/android_dropper_checkin.pcap"
    agents = user_agents(capture)
    assert agents
    # "Moto G (7)": a model name with parentheses inside the comment
    assert [device_from_user_agent(ua) for ua in agents] == ["Moto G (7)"]
    assert [app_from_user_agent(ua) for ua in agents] == [None]
