"""Reachability: chains from a manifest entry point to an identifier source and a network
sink, through plain calls, class hierarchy and the implicit edges of thread/executor/
handler/AsyncTask/WorkManager/JobScheduler/component dispatch."""

from __future__ import annotations

import pytest

from phonehome.static.callgraph import CallGraph
from phonehome.static.dex import DexFile
from phonehome.static.manifest import parse_manifest
from tests.builders_apk import Cls, Method, build_axml, build_dex, manifest

PKG = "com.x"
RECV = "Lcom/x/Recv;"
TASK = "Lcom/x/RegistrationTask;"
NET = "Lcom/x/Net;"
GET_IMEI = ("invoke", "Landroid/telephony/TelephonyManager;->getDeviceId")
CONNECT = ("invoke", "Ljava/net/HttpURLConnection;->connect")


def _net() -> Cls:
    return Cls(NET, methods=[Method("post", [CONNECT], direct=True)])


def _graph(
    dexes: list[list[Cls]], receivers: dict[str, tuple[str, ...]]
) -> tuple[CallGraph, list[str]]:
    graph = CallGraph()
    for classes in dexes:
        graph.add_dex(DexFile(build_dex(classes)))
    graph.resolve()
    man = parse_manifest(build_axml(manifest(PKG, receivers=receivers)))
    return graph, [c.text() for c in graph.chains(man)]


def _receiver(
    code: list[tuple[str, ...]], superclass: str = "Landroid/content/BroadcastReceiver;"
) -> Cls:
    return Cls(RECV, superclass, methods=[Method("onReceive", code)])


def _task(superclass: str, callback: str, interfaces: tuple[str, ...] = ()) -> Cls:
    body = [GET_IMEI, ("invoke", f"{NET}->post", "static")]
    return Cls(TASK, superclass, interfaces, [Method("<init>"), Method(callback, body)])


USER_PRESENT = {".Recv": ("android.intent.action.USER_PRESENT",)}
OBJ = "Ljava/lang/Object;"

DISPATCH_CASES = {
    "thread": (
        [
            ("new", TASK),
            ("invoke", f"{TASK}-><init>", "direct"),
            ("invoke", "Ljava/lang/Thread;-><init>", "direct"),
            ("invoke", "Ljava/lang/Thread;->start"),
        ],
        _task(OBJ, "run", ("Ljava/lang/Runnable;",)),
    ),
    "thread-subclass": (
        [("new", TASK), ("invoke", f"{TASK}-><init>", "direct"), ("invoke", f"{TASK}->start")],
        _task("Ljava/lang/Thread;", "run"),
    ),
    "executor": (
        [("new", TASK), ("invoke", "Ljava/util/concurrent/ExecutorService;->submit", "interface")],
        _task(OBJ, "call", ("Ljava/util/concurrent/Callable;",)),
    ),
    "handler": (
        [("new", TASK), ("invoke", "Landroid/os/Handler;->postDelayed")],
        _task(OBJ, "run", ("Ljava/lang/Runnable;",)),
    ),
    "asynctask": (
        [("new", TASK), ("invoke", f"{TASK}->execute")],
        _task("Landroid/os/AsyncTask;", "doInBackground"),
    ),
    "workmanager": (
        [
            ("class", TASK),
            ("invoke", "Landroidx/work/OneTimeWorkRequest$Builder;-><init>", "direct"),
            ("invoke", "Landroidx/work/WorkManager;->enqueue"),
        ],
        _task("Landroidx/work/Worker;", "doWork"),
    ),
    "jobscheduler": (
        [
            ("class", TASK),
            ("invoke", "Landroid/app/job/JobInfo$Builder;-><init>", "direct"),
            ("invoke", "Landroid/app/job/JobScheduler;->schedule"),
        ],
        _task("Landroid/app/job/JobService;", "onStartJob"),
    ),
    "start-service": (
        [("class", TASK), ("invoke", "Landroid/content/Context;->startService")],
        _task("Landroid/app/IntentService;", "onHandleIntent"),
    ),
}


@pytest.mark.parametrize("case", sorted(DISPATCH_CASES))
def test_implicit_edges_make_the_chain(case: str) -> None:
    code, task = DISPATCH_CASES[case]
    graph, chains = _graph([[_receiver(code), task, _net()]], USER_PRESENT)
    callback = task.methods[1].name
    assert chains == [
        f"USER_PRESENT receiver -> Recv.onReceive -> RegistrationTask.{callback} -> "
        "TelephonyManager.getDeviceId ... -> Net.post -> HttpURLConnection.connect"
    ]
    assert [(u.api, u.kind) for u in graph.sources_found()] == [
        ("TelephonyManager.getDeviceId", "imei")
    ]


@pytest.mark.parametrize("case", ["thread", "asynctask", "workmanager"])
def test_without_the_dispatch_call_there_is_no_chain(case: str) -> None:
    """Instantiating the task is not running it: drop the dispatching invoke."""
    code, task = DISPATCH_CASES[case]
    code = [ins for ins in code if ins[0] != "invoke" or ("<init>" in ins[1] and TASK in ins[1])]
    _, chains = _graph([[_receiver(code), task, _net()]], USER_PRESENT)
    assert chains == []


def test_source_that_never_reaches_a_sink() -> None:
    """The app reads the IMEI (and logs it) and has network code, but no entry point runs
    a method that leads to both."""
    logger = Cls(
        TASK,
        methods=[
            Method("log", [GET_IMEI, ("invoke", "Landroid/util/Log;->d", "static")], direct=True)
        ],
    )
    other = Cls(
        "Lcom/x/Sync;",
        methods=[Method("sync", [("invoke", f"{NET}->post", "static")], direct=True)],
    )
    recv = _receiver([("invoke", f"{TASK}->log", "static")])
    graph, chains = _graph([[recv, logger, other, _net()]], USER_PRESENT)
    assert chains == []
    assert graph.sources_found() and graph.sinks_found()


def test_multidex_chain_across_files() -> None:
    recv = _receiver(DISPATCH_CASES["thread"][0])
    _, chains = _graph(
        [[recv], [_task(OBJ, "run", ("Ljava/lang/Runnable;",))], [_net()]], USER_PRESENT
    )
    assert len(chains) == 1 and "RegistrationTask.run" in chains[0]


def test_inherited_and_overriding_methods() -> None:
    """Receiver's onReceive comes from an app base class; the base calls an abstract hook
    that the subclass overrides (class-hierarchy edge)."""
    base = Cls(
        "Lcom/x/Base;",
        "Landroid/content/BroadcastReceiver;",
        methods=[Method("onReceive", [("invoke", "Lcom/x/Base;->work")]), Method("work", [])],
    )
    recv = Cls(
        RECV,
        "Lcom/x/Base;",
        methods=[Method("work", [GET_IMEI, ("invoke", f"{NET}->post", "static")])],
    )
    _, chains = _graph([[base, recv, _net()]], USER_PRESENT)
    assert chains == [
        "USER_PRESENT receiver -> Base.onReceive -> Recv.work -> TelephonyManager.getDeviceId"
        " ... -> Net.post -> HttpURLConnection.connect"
    ]


@pytest.mark.parametrize(
    ("code", "identifier"),
    [
        ([("invoke", "Landroid/telephony/TelephonyManager;->getSubscriberId")], "imsi"),
        ([("invoke", "Landroid/telephony/TelephonyManager;->getSimSerialNumber")], "iccid"),
        ([("invoke", "Landroid/telephony/TelephonyManager;->getAllCellInfo")], "cell_id"),
        ([("invoke", "Landroid/net/wifi/WifiInfo;->getMacAddress")], "mac"),
        ([("invoke", "Ljava/net/NetworkInterface;->getHardwareAddress")], "mac"),
        (
            [
                ("string", "android_id"),
                ("invoke", "Landroid/provider/Settings$Secure;->getString", "static"),
            ],
            "android_id",
        ),
        ([("sget", "Landroid/provider/Settings$Secure;->ANDROID_ID")], "android_id"),
        (
            [
                (
                    "invoke",
                    "Lcom/google/android/gms/ads/identifier/AdvertisingIdClient;->getAdvertisingIdInfo",
                    "static",
                )
            ],
            "ad_id",
        ),
        ([("invoke", "Landroid/location/LocationManager;->getLastKnownLocation")], "location"),
        (
            [
                (
                    "invoke",
                    "Lcom/google/android/gms/location/FusedLocationProviderClient;->getLastLocation",
                )
            ],
            "location",
        ),
    ],
)
def test_source_catalogue_hits(code: list[tuple[str, ...]], identifier: str) -> None:
    graph, _ = _graph([[_receiver(code)]], USER_PRESENT)
    assert {u.kind for u in graph.sources_found()} == {identifier}


@pytest.mark.parametrize(
    "code",
    [
        [("invoke", "Landroid/provider/Settings$Secure;->getString", "static")],  # other key
        [("string", "android_id")],  # the key alone reads nothing
        [("invoke", "Landroid/telephony/TelephonyManager;->getNetworkType")],
        [("invoke", "Lcom/x/TelephonyManager;->getDeviceId")],  # an app class of that name
    ],
)
def test_source_catalogue_misses(code: list[tuple[str, ...]]) -> None:
    graph, _ = _graph([[_receiver(code)]], USER_PRESENT)
    assert graph.sources_found() == []


@pytest.mark.parametrize(
    ("api", "kind"),
    [
        ("Lokhttp3/Call;->execute", "http"),
        ("Lorg/apache/http/impl/client/DefaultHttpClient;->execute", "http"),
        ("Ljava/net/DatagramSocket;->send", "udp"),
        ("Ljava/net/Socket;->getOutputStream", "socket"),
        ("Landroid/webkit/WebView;->loadUrl", "webview"),
        ("Lcom/android/volley/RequestQueue;->add", "http"),
    ],
)
def test_sink_catalogue(api: str, kind: str) -> None:
    graph, _ = _graph([[_receiver([("invoke", api)])]], USER_PRESENT)
    assert [u.kind for u in graph.sinks_found()] == [kind]


def test_registered_receiver_actions_in_code() -> None:
    code = [("string", "android.intent.action.SCREEN_ON"), ("string", "not an action")]
    graph, _ = _graph([[_receiver(code)]], {})
    assert graph.code_actions == {"android.intent.action.SCREEN_ON"}


def test_overloads_are_one_method_with_every_body() -> None:
    """Methods are keyed by name, not signature: ``doInBackground(String[])`` and the
    ``doInBackground(Object[])`` bridge javac adds (Flows.apk's ``Fetcher``, an
    ``AsyncTask<String, ...>``) are one method whose calls are those of both bodies. The
    bridge, defined last, used to replace the real body and hide its network calls."""
    import zipfile
    from pathlib import Path

    apk = Path(__file__).resolve().parent / "apks" / "built" / "Flows.apk"
    graph = CallGraph()
    graph.add_dex(DexFile(zipfile.ZipFile(apk).read("classes.dex")))
    graph.resolve()
    gid = graph.ids["Lorg/phonehome/test/flows/Fetcher;->doInBackground"]
    assert len(graph.code_locations(gid)) == 2
    uses = {(u.api, u.method) for u in graph.sinks_found()}
    fetcher = "org.phonehome.test.flows.Fetcher.doInBackground"
    assert ("HttpURLConnection.getResponseCode", fetcher) in uses
    assert gid in graph.callees[gid]  # the bridge's call to the typed body
