"""The catalogue: framework APIs that yield a personal identifier (sources), APIs that put
bytes on the network (sinks), APIs that run app code later on another thread or component
(dispatchers, the implicit call-graph edges), and the system broadcasts that wake an app
up (triggers).

APIs are keyed ``Lpackage/Class;->method`` (DEX descriptor of the class the call site
names, without the prototype: overloads of these methods all do the same thing).
"""

from __future__ import annotations

from dataclasses import dataclass

_TM = "Landroid/telephony/TelephonyManager;"
_GMS_LOC = "Lcom/google/android/gms/location/FusedLocationProviderClient;"
_LOC = "Landroid/location/LocationManager;"

SOURCES: dict[str, str] = {
    f"{_TM}->getDeviceId": "imei",
    f"{_TM}->getImei": "imei",
    f"{_TM}->getMeid": "meid",
    f"{_TM}->getSubscriberId": "imsi",
    f"{_TM}->getSimSerialNumber": "iccid",
    f"{_TM}->getLine1Number": "msisdn",
    f"{_TM}->getCellLocation": "cell_id",
    f"{_TM}->getAllCellInfo": "cell_id",
    f"{_TM}->getNeighboringCellInfo": "cell_id",
    "Landroid/telephony/SubscriptionInfo;->getIccId": "iccid",
    "Landroid/telephony/SubscriptionInfo;->getNumber": "msisdn",
    "Landroid/telephony/gsm/GsmCellLocation;->getCid": "cell_id",
    "Landroid/net/wifi/WifiInfo;->getMacAddress": "mac",
    "Landroid/net/wifi/WifiInfo;->getBSSID": "location",
    "Ljava/net/NetworkInterface;->getHardwareAddress": "mac",
    "Landroid/bluetooth/BluetoothAdapter;->getAddress": "mac",
    "Lcom/google/android/gms/ads/identifier/AdvertisingIdClient;->getAdvertisingIdInfo": "ad_id",
    "Landroidx/ads/identifier/AdvertisingIdClient;->getAdvertisingIdInfo": "ad_id",
    f"{_LOC}->getLastKnownLocation": "location",
    f"{_LOC}->requestLocationUpdates": "location",
    f"{_LOC}->requestSingleUpdate": "location",
    f"{_LOC}->getCurrentLocation": "location",
    f"{_GMS_LOC}->getLastLocation": "location",
    f"{_GMS_LOC}->requestLocationUpdates": "location",
    f"{_GMS_LOC}->getCurrentLocation": "location",
    "Landroid/os/Build;->getSerial": "serial",
    "Landroid/accounts/AccountManager;->getAccounts": "email",
    "Landroid/accounts/AccountManager;->getAccountsByType": "email",
}

SOURCE_FIELDS: dict[str, str] = {
    "Landroid/provider/Settings$Secure;->ANDROID_ID": "android_id",
    "Landroid/os/Build;->SERIAL": "serial",
}
"""Static fields read with ``sget`` (ANDROID_ID is usually inlined as a string, see below)."""

SETTINGS_GETTERS = frozenset(
    {
        "Landroid/provider/Settings$Secure;->getString",
        "Landroid/provider/Settings$System;->getString",
    }
)
ANDROID_ID_KEY = "android_id"
"""``Settings.Secure.ANDROID_ID`` is a compile-time constant: the call site has this
const-string and a ``Settings$Secure.getString`` call."""

_HTTP = "Ljava/net/HttpURLConnection;"
_URLC = "Ljava/net/URLConnection;"
_HTTPS = "Ljavax/net/ssl/HttpsURLConnection;"
_APACHE = (
    "Lorg/apache/http/client/HttpClient;",
    "Lorg/apache/http/impl/client/DefaultHttpClient;",
    "Lorg/apache/http/impl/client/AbstractHttpClient;",
    "Lorg/apache/http/impl/client/CloseableHttpClient;",
    "Landroid/net/http/AndroidHttpClient;",
)

SINKS: dict[str, str] = {
    **{
        f"{cls}->{m}": "http"
        for cls in (_HTTP, _URLC, _HTTPS)
        for m in ("connect", "getOutputStream", "getInputStream", "getResponseCode")
    },
    "Ljava/net/URL;->openStream": "http",
    "Lokhttp3/Call;->execute": "http",
    "Lokhttp3/Call;->enqueue": "http",
    "Lcom/squareup/okhttp/Call;->execute": "http",
    "Lcom/squareup/okhttp/Call;->enqueue": "http",
    "Lretrofit2/Call;->execute": "http",
    "Lretrofit2/Call;->enqueue": "http",
    **{f"{cls}->execute": "http" for cls in _APACHE},
    "Lcom/android/volley/RequestQueue;->add": "http",
    "Ljava/net/Socket;->connect": "socket",
    "Ljava/net/Socket;->getOutputStream": "socket",
    "Ljava/nio/channels/SocketChannel;->write": "socket",
    "Ljava/net/DatagramSocket;->send": "udp",
    "Ljava/nio/channels/DatagramChannel;->send": "udp",
    "Landroid/webkit/WebView;->loadUrl": "webview",
    "Landroid/webkit/WebView;->postUrl": "webview",
}

RUNNABLE_CALLBACKS = ("run", "call")
SERVICE_CALLBACKS = ("onCreate", "onStartCommand", "onHandleIntent", "onBind", "onStartJob")


@dataclass(frozen=True, slots=True)
class Dispatch:
    callbacks: tuple[str, ...]
    """Methods of the dispatched object's class that the framework will call."""


def _d(*callbacks: str) -> Dispatch:
    return Dispatch(callbacks)


_RUN = _d(*RUNNABLE_CALLBACKS)
_EXECUTORS = (
    "Ljava/util/concurrent/Executor;",
    "Ljava/util/concurrent/ExecutorService;",
    "Ljava/util/concurrent/ScheduledExecutorService;",
    "Ljava/util/concurrent/ThreadPoolExecutor;",
    "Ljava/util/concurrent/ScheduledThreadPoolExecutor;",
    "Ljava/util/concurrent/AbstractExecutorService;",
)
_HANDLERS = ("Landroid/os/Handler;", "Landroid/view/View;")

DISPATCHERS: dict[str, Dispatch] = {
    "Ljava/lang/Thread;-><init>": _RUN,
    "Ljava/lang/Thread;->start": _RUN,
    **{
        f"{cls}->{m}": _RUN
        for cls in _EXECUTORS
        for m in ("execute", "submit", "schedule", "scheduleAtFixedRate", "invokeAll")
    },
    **{
        f"{cls}->{m}": _RUN
        for cls in _HANDLERS
        for m in ("post", "postDelayed", "postAtTime", "postAtFrontOfQueue")
    },
    "Landroid/os/Handler;->sendMessage": _d("handleMessage"),
    "Landroid/os/Handler;->sendEmptyMessage": _d("handleMessage"),
    "Landroid/os/Handler;->sendMessageDelayed": _d("handleMessage"),
    "Landroid/os/Handler;->sendEmptyMessageDelayed": _d("handleMessage"),
    "Landroid/app/Activity;->runOnUiThread": _RUN,
    "Ljava/util/Timer;->schedule": _RUN,
    "Ljava/util/Timer;->scheduleAtFixedRate": _RUN,
    "Ljava/util/concurrent/CompletableFuture;->runAsync": _RUN,
    "Ljava/util/concurrent/CompletableFuture;->supplyAsync": _d("get"),
    "Landroid/os/AsyncTask;->execute": _d("doInBackground", "onPreExecute", "onPostExecute"),
    "Landroid/os/AsyncTask;->executeOnExecutor": _d(
        "doInBackground", "onPreExecute", "onPostExecute"
    ),
    "Landroidx/work/WorkManager;->enqueue": _d("doWork", "startWork"),
    "Landroidx/work/WorkManager;->enqueueUniqueWork": _d("doWork", "startWork"),
    "Landroidx/work/WorkManager;->enqueueUniquePeriodicWork": _d("doWork", "startWork"),
    "Landroidx/work/OneTimeWorkRequest$Builder;-><init>": _d("doWork", "startWork"),
    "Landroidx/work/PeriodicWorkRequest$Builder;-><init>": _d("doWork", "startWork"),
    "Landroid/app/job/JobScheduler;->schedule": _d("onStartJob"),
    "Landroid/app/job/JobScheduler;->enqueue": _d("onStartJob"),
    "Landroid/app/job/JobInfo$Builder;-><init>": _d("onStartJob"),
}

CONTEXT_DISPATCHERS: dict[str, Dispatch] = {
    "startService": _d(*SERVICE_CALLBACKS),
    "startForegroundService": _d(*SERVICE_CALLBACKS),
    "bindService": _d(*SERVICE_CALLBACKS),
    "sendBroadcast": _d("onReceive"),
    "registerReceiver": _d("onReceive"),
    "startActivity": _d("onCreate", "onStart", "onResume"),
}
"""Context methods, matched on any framework class (Context, ContextWrapper, Activity,
Service, ...): the target component class comes from ``new Intent(ctx, X.class)``."""

ENTRY_CALLBACKS: dict[str, tuple[str, ...]] = {
    "receiver": ("onReceive",),
    "service": SERVICE_CALLBACKS,
    "activity": ("onCreate", "onStart", "onResume", "onNewIntent"),
    "provider": ("onCreate", "query", "insert", "update", "call"),
    "application": ("onCreate", "attachBaseContext"),
}
"""Methods the system calls on a component declared in the manifest."""

TRIGGERS: dict[str, str] = {
    "android.intent.action.USER_PRESENT": "USER_PRESENT",
    "android.intent.action.BOOT_COMPLETED": "BOOT_COMPLETED",
    "android.intent.action.LOCKED_BOOT_COMPLETED": "LOCKED_BOOT_COMPLETED",
    "android.intent.action.QUICKBOOT_POWERON": "QUICKBOOT_POWERON",
    "android.intent.action.SCREEN_ON": "SCREEN_ON",
    "android.intent.action.SCREEN_OFF": "SCREEN_OFF",
    "android.intent.action.SIM_STATE_CHANGED": "SIM_STATE_CHANGED",
    "android.intent.action.SERVICE_STATE": "SERVICE_STATE",
    "android.intent.action.PHONE_STATE": "PHONE_STATE",
    "android.intent.action.NEW_OUTGOING_CALL": "NEW_OUTGOING_CALL",
    "android.intent.action.AIRPLANE_MODE": "AIRPLANE_MODE",
    "android.intent.action.ACTION_POWER_CONNECTED": "POWER_CONNECTED",
    "android.intent.action.ACTION_POWER_DISCONNECTED": "POWER_DISCONNECTED",
    "android.intent.action.PACKAGE_ADDED": "PACKAGE_ADDED",
    "android.intent.action.PACKAGE_REPLACED": "PACKAGE_REPLACED",
    "android.intent.action.MY_PACKAGE_REPLACED": "MY_PACKAGE_REPLACED",
    "android.intent.action.TIME_SET": "TIME_SET",
    "android.intent.action.TIMEZONE_CHANGED": "TIMEZONE_CHANGED",
    "android.intent.action.LOCALE_CHANGED": "LOCALE_CHANGED",
    "android.net.conn.CONNECTIVITY_CHANGE": "CONNECTIVITY_CHANGE",
    "android.net.wifi.STATE_CHANGE": "WIFI_STATE_CHANGE",
    "android.net.wifi.WIFI_STATE_CHANGED": "WIFI_STATE_CHANGED",
    "android.provider.Telephony.SMS_RECEIVED": "SMS_RECEIVED",
}
"""System broadcasts that start an app without the user opening it."""


def trigger_name(action: str) -> str | None:
    return TRIGGERS.get(action)


def api_label(key: str) -> str:
    """``Landroid/telephony/TelephonyManager;->getDeviceId`` -> ``TelephonyManager.getDeviceId``."""
    cls, _, name = key.partition(";->")
    return f"{cls.rsplit('/', 1)[-1]}.{name}" if name else key
