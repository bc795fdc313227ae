"""Android's fixed uids: who a PCAPdroid label ``uid 1001`` is.

Apps get uids from 10000 up (``FIRST_APPLICATION_UID``); below that, AOSP assigns fixed
ids to the platform's own processes in ``system/core/libcutils/include/private/
android_filesystem_config.h`` ("DO NOT EVER RENUMBER"). A packet from uid 1001 was sent
by the telephony stack (the RIL and the phone process, where carrier self-registration
such as Qualcomm's autoregistration runs), not by an installed app. The names are AOSP's
``AID_*`` names; the words after them say what runs as that uid, for the ids that send
network traffic or that a user would not recognise. Ids that are only group ids (storage
and device-node access, 3001-3012 ...) are listed by their name alone.

A uid belongs to an Android user (profile): ``uid = user * 100000 + app id``
(``AID_USER_OFFSET``), so the table is keyed by the app id and any user's copy of a
system uid is named too.
"""

from __future__ import annotations

from typing import Final

USER_OFFSET: Final = 100_000
"""``AID_USER_OFFSET``: uids of user N are N * 100000 + app id."""
FIRST_APPLICATION_UID: Final = 10_000

FIXED_UIDS: Final[dict[int, str]] = {
    0: "root",
    1000: "system (the system server and apps sharing android.uid.system)",
    1001: "radio (telephony processes)",
    1002: "bluetooth",
    1003: "graphics",
    1004: "input",
    1005: "audio",
    1006: "camera",
    1007: "log",
    1008: "compass",
    1009: "mount",
    1010: "wifi (Wi-Fi processes)",
    1011: "adb (Android debug bridge)",
    1012: "install",
    1013: "media (media server)",
    1014: "dhcp (DHCP client)",
    1015: "sdcard_rw",
    1016: "vpn",
    1017: "keystore",
    1018: "usb",
    1019: "drm (DRM server)",
    1020: "mdnsr (multicast DNS responder)",
    1021: "gps (GPS daemon)",
    1023: "media_rw",
    1024: "mtp",
    1026: "drmrpc",
    1027: "nfc (NFC processes)",
    1028: "sdcard_r",
    1029: "clat (464XLAT)",
    1030: "loop_radio",
    1031: "mediadrm (MediaDrm plugins)",
    1032: "package_info",
    1033: "sdcard_pics",
    1034: "sdcard_av",
    1035: "sdcard_all",
    1036: "logd (log daemon)",
    1037: "shared_relro",
    1038: "dbus",
    1039: "tlsdate (time sync)",
    1040: "mediaex (media extractor)",
    1041: "audioserver",
    1042: "metrics_coll",
    1043: "metricsd",
    1044: "webserv",
    1045: "debuggerd",
    1046: "mediacodec",
    1047: "cameraserver",
    1048: "firewall",
    1049: "trunks (TPM daemon)",
    1050: "nvram",
    1051: "dns (the system DNS resolver, netd)",
    1052: "dns_tether (DNS for tethered devices)",
    1053: "webview_zygote",
    1054: "vehicle_network",
    1055: "media_audio",
    1056: "media_video",
    1057: "media_image",
    1058: "tombstoned",
    1059: "media_obb",
    1060: "ese (embedded secure element)",
    1061: "ota_update (system updates)",
    1062: "automotive_evs",
    1063: "lowpan",
    1064: "hsm",
    1065: "reserved_disk",
    1066: "statsd (statistics daemon)",
    1067: "incidentd (incident reports)",
    1068: "secure_element",
    1069: "lmkd",
    1070: "llkd",
    1071: "iorapd",
    1072: "gpu_service",
    1073: "network_stack (the network stack service)",
    1074: "gsid",
    1075: "fsverity_cert",
    1076: "credstore",
    1077: "external_storage",
    1078: "ext_data_rw",
    1079: "ext_obb_rw",
    1080: "context_hub",
    1081: "virtualizationservice",
    1082: "artd",
    1083: "uwb",
    1084: "thread_network",
    1085: "diced",
    1086: "dmesgd",
    1087: "jc_weaver",
    1088: "jc_strongbox",
    1089: "jc_identitycred",
    1090: "sdk_sandbox",
    1091: "security_log_writer",
    1092: "prng_seeder",
    2000: "shell (adb shell)",
    2001: "cache",
    2002: "diag",
    3001: "net_bt_admin",
    3002: "net_bt",
    3003: "inet",
    3004: "net_raw",
    3005: "net_admin",
    3006: "net_bw_stats",
    3007: "net_bw_acct",
    3009: "readproc",
    3010: "wakelock",
    3011: "uhid",
    3012: "readtracefs",
    9997: "everybody",
    9998: "misc",
    9999: "nobody",
}
"""App id -> AOSP name (and what runs as it), from android_filesystem_config.h."""


def describe(uid: int | None) -> str | None:
    """``radio (telephony processes)`` for uid 1001 (of any user), None for an app's uid
    or an id AOSP does not assign."""
    if uid is None or uid < 0:
        return None
    app_id = uid % USER_OFFSET
    if app_id >= FIRST_APPLICATION_UID:
        return None
    return FIXED_UIDS.get(app_id)
