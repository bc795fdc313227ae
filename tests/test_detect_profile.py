"""Device profile loading: valid files, shape errors, value warnings, the canonical hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonehome.detect.profile import load_profile, profile_hash
from phonehome.errors import UsageError
from phonehome.model.profile import Location

VALID = """
name = "Nokia 7 Plus"
home_country = "no"
imei = ["352099001761481", "352099001761490"]
imsi = "242016000012345"
iccid = "8947080037110000006"
mac = "AA-BB-CC-DD-EE-FF"
email = "someone@example.org"

[[location]]
lat = 59.9127
lon = 10.7461

[[location]]
lat = -33.86
lon = 151.2
radius_m = 250
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "device.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_profile(tmp_path):
    profile, warnings = load_profile(write(tmp_path, VALID))
    assert profile.name == "Nokia 7 Plus"
    assert profile.home_country == "NO"
    assert profile.get("imei") == ("352099001761481", "352099001761490")
    assert profile.get("imsi") == ("242016000012345",)
    assert profile.get("mac") == ("AA-BB-CC-DD-EE-FF",)
    assert profile.get("serial") == ()
    assert profile.locations == (Location(59.9127, 10.7461, 1000.0), Location(-33.86, 151.2, 250.0))
    # second IMEI fails Luhn: still used, but the user is told
    assert profile.get("imei")[1] == "352099001761490"
    assert len(warnings) == 1
    assert "imei[1] fails the Luhn check" in warnings[0]


def test_unknown_key_lists_valid_keys(tmp_path):
    path = write(tmp_path, 'imie = "352099001761481"\n')
    with pytest.raises(UsageError) as err:
        load_profile(path)
    message = str(err.value)
    assert str(path) in message and "'imie'" in message
    assert "imei" in message and "android_id" in message and "location" in message
    assert "\n" not in message


def test_toml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, 'name = "x"\nimei = [\n"1",,\n]\n')
    with pytest.raises(UsageError, match=r"invalid TOML: .*line 3"):
        load_profile(path)


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        load_profile(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("imei = 352099001761481\n", "'imei' must be a string or a list of strings"),
        ('imei = ["352099001761481", 1]\n', "'imei' must be a string"),
        ("name = 3\n", "'name' must be a string"),
        ('home_country = "NOR"\n', "two-letter"),
        ("[[location]]\nlat = 91\nlon = 0\n", "lat 91.0 is out of range"),
        ("[[location]]\nlat = 0\nlon = -180.5\n", "lon -180.5 is out of range"),
        ("[[location]]\nlat = 0\n", "has no 'lon'"),
        ('[[location]]\nlat = "59"\nlon = 10\n', "lat must be a number"),
        ("[[location]]\nlat = true\nlon = 10\n", "lat must be a number"),
        ("[[location]]\nlat = 1\nlon = 1\nradius_m = 0\n", "radius_m must be positive"),
        ("[[location]]\nlat = 1\nlon = 1\nalt = 3\n", "unknown key 'alt' in location #1"),
        ("location = 5\n", "array of tables"),
    ],
)
def test_shape_errors(tmp_path, text, match):
    with pytest.raises(UsageError, match=match):
        load_profile(write(tmp_path, text))


@pytest.mark.parametrize(
    ("key", "value", "warned"),
    [
        ("imei", "352099001761481", False),
        ("imei", "352099001761482", True),
        ("imei", "35209900176148", True),
        ("iccid", "8947080037110000006", False),
        ("iccid", "8947080037110000005", True),
        ("iccid", "9947080037110000005", True),
        ("imsi", "242016000012345", False),
        ("imsi", "2420160", True),
        ("mac", "aabbccddeeff", False),
        ("mac", "aa:bb:cc:dd:ee", True),
        ("meid", "A0000012345678", False),
        ("meid", "A00000123456", True),
        ("android_id", "9774d56d682e549c", False),
        ("android_id", "9774d56d682e549", True),
        ("ad_id", "38400000-8cf0-11bd-b23e-10b96e40000d", False),
        ("ad_id", "not-a-uuid", True),
        ("email", "a@b.org", False),
        ("email", "a.b.org", True),
        ("msisdn", "+47 912 34 567", False),
        ("msisdn", "call me", True),
        ("cell_id", "0x1a2b", False),
        ("cell_id", "12²", True),
        ("imei", "35209900176148²", True),
        ("imsi", "24201600001234٣", True),
        ("meid", "²" * 18, True),
        ("serial", "anything goes 123", False),
    ],
)
def test_value_warnings(tmp_path, key, value, warned):
    profile, warnings = load_profile(write(tmp_path, f'{key} = "{value}"\n'))
    assert profile.get(key) == (value,)  # kept either way: it is the user's device
    assert bool(warnings) is warned


def test_duplicates_and_blanks_are_dropped(tmp_path):
    profile, warnings = load_profile(
        write(tmp_path, 'serial = ["R58M1", " R58M1 ", ""]\nimei = []\n')
    )
    assert profile.get("serial") == ("R58M1",)
    assert "imei" not in profile.values
    assert any("'imei' has no values" in w for w in warnings)


def test_profile_hash_is_canonical_and_hides_values(tmp_path):
    a, _ = load_profile(write(tmp_path, 'imei = ["352099001761481", "490154203237518"]\n'))
    b, _ = load_profile(write(tmp_path, 'imei = ["490154203237518", "352099001761481"]\n'))
    c, _ = load_profile(write(tmp_path, 'imei = ["490154203237518"]\n'))
    assert profile_hash(a) == profile_hash(b)
    assert profile_hash(a) != profile_hash(c)
    assert len(profile_hash(a)) == 64
    assert "352099001761481" not in profile_hash(a)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('imei = ["352099001761481", "352099001761482"]', ["imei[1] fails the Luhn check"]),
        ('imsi = "2420160"', ["imsi[0] is not 14-15 digits"]),
        ('iccid = "8947080037110000005"', ["iccid[0]", "Luhn"]),
        ('mac = "12:34:56:78:9a"', ["mac[0] is not a MAC address"]),
        ('email = "someone.example.org"', ["email[0] is not an e-mail address"]),
        ('android_id = "9774d56d682e549"', ["android_id[0] is not 16 hex digits"]),
    ],
)
def test_value_warnings_name_the_value_by_position_not_by_content(
    tmp_path: Path, text: str, words: list[str]
) -> None:
    # Warnings go to stderr, and from there into CI logs: the identifier must not.
    profile, warnings = load_profile(write(tmp_path, text + "\n"))
    (warning,) = warnings
    for w in words:
        assert w in warning
    for values in profile.values.values():
        for value in values:
            assert value not in warning
            assert len(value) < 12 or value[3:-3] not in warning
