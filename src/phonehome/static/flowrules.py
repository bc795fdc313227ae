"""What framework and library calls do to a value, for the data-flow analysis
(:mod:`phonehome.static.dataflow`).

The app's own methods are analysed from their bytecode; calls into the framework and
libraries the APK does not contain are modelled here, by API (``Lpkg/Class;->name``,
overloads alike, as in :mod:`phonehome.static.sources`):

- **sinks** where a value leaves the process or is stored: by *kind* ``network``
  (HTTP request URL, headers and body, sockets, WebView, SMS), ``local`` (logs, files,
  SharedPreferences, databases) and ``ipc`` (intents, content providers). A sink call
  counts when a tracked value is in one of its *data* arguments (``positions``; 0 is the
  receiver of an instance call).
- **handles**: objects that are a way out, such as the stream of
  ``HttpURLConnection.getOutputStream()``. Writing a tracked value to a handle (or to a
  stream/writer wrapped around it) is the sink: "the IMEI flows into the request body".
- **transforms** that change the form, not the content: a hashed, Base64'd, hex'd,
  JSON'd, URL-encoded or encrypted IMEI is still the IMEI, said with the transform.
- **the default rule** for every other call we cannot see into: the result of a call
  carries whatever its receiver and arguments carried (``s.trim()``, ``json.toString()``,
  ``Integer.toString(cid)``), except for calls whose result is a yes/no or a size
  (``equals``, ``isEmpty``, ``length``, ``is*``/``has*``); and an instance call whose name
  says it stores into its receiver (``put*``, ``add*``, ``append``, ``set*``, ``write*``,
  builders' ``url``/``header``/``post``, constructors) makes the receiver carry its
  arguments' values.

These rules are documented in docs/static.md ("What the data flow covers").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sink:
    kind: str
    """``network``, ``local`` or ``ipc``."""
    channel: str
    """``http-body``, ``http-url``, ``http-header``, ``socket``, ``log``, ``file``, ..."""
    positions: tuple[int, ...] | None = None
    """Invoke argument positions that are data (0 = receiver); None = all of them."""


_HTTP_CONN = (
    "Ljava/net/HttpURLConnection;",
    "Ljava/net/URLConnection;",
    "Ljavax/net/ssl/HttpsURLConnection;",
)
_APACHE = (
    "Lorg/apache/http/client/HttpClient;",
    "Lorg/apache/http/impl/client/DefaultHttpClient;",
    "Lorg/apache/http/impl/client/AbstractHttpClient;",
    "Lorg/apache/http/impl/client/CloseableHttpClient;",
    "Landroid/net/http/AndroidHttpClient;",
)
_URL_SENDS = ("connect", "getInputStream", "getOutputStream", "getResponseCode", "getContent")

SINKS: dict[str, Sink] = {
    **{
        f"{c}->{m}": Sink("network", "http-header", (1, 2))
        for c in _HTTP_CONN
        for m in ("setRequestProperty", "addRequestProperty")
    },
    **{f"{c}->{m}": Sink("network", "http-url", (0,)) for c in _HTTP_CONN for m in _URL_SENDS},
    "Ljava/net/URL;->openStream": Sink("network", "http-url", (0,)),
    **{
        f"{c}->{m}": Sink("network", "http", (0,))
        for c in ("Lokhttp3/Call;", "Lcom/squareup/okhttp/Call;", "Lretrofit2/Call;")
        for m in ("execute", "enqueue")
    },
    **{f"{c}->execute": Sink("network", "http", None) for c in _APACHE},
    "Lcom/android/volley/RequestQueue;->add": Sink("network", "http", (1,)),
    "Landroid/webkit/WebView;->loadUrl": Sink("network", "webview", (1, 2)),
    "Landroid/webkit/WebView;->postUrl": Sink("network", "webview", (1, 2)),
    "Landroid/webkit/WebView;->loadData": Sink("network", "webview", (1,)),
    "Landroid/webkit/WebView;->loadDataWithBaseURL": Sink("network", "webview", (1, 2)),
    "Landroid/webkit/WebView;->evaluateJavascript": Sink("network", "webview", (1,)),
    "Ljava/net/DatagramSocket;->send": Sink("network", "udp", (1,)),
    "Ljava/nio/channels/DatagramChannel;->send": Sink("network", "udp", (1,)),
    "Ljava/nio/channels/SocketChannel;->write": Sink("network", "socket", (1,)),
    "Landroid/telephony/SmsManager;->sendTextMessage": Sink("network", "sms", (1, 3)),
    "Landroid/telephony/SmsManager;->sendMultipartTextMessage": Sink("network", "sms", (1, 3)),
    **{
        f"Landroid/util/Log;->{m}": Sink("local", "log", None)
        for m in ("d", "i", "v", "w", "e", "wtf", "println")
    },
    **{
        f"Landroid/content/SharedPreferences$Editor;->{m}": Sink("local", "preferences", (1, 2))
        for m in ("putString", "putStringSet", "putLong", "putInt", "putFloat", "putBoolean")
    },
    **{
        f"Landroid/database/sqlite/SQLiteDatabase;->{m}": Sink("local", "database", None)
        for m in ("insert", "insertOrThrow", "insertWithOnConflict", "replace", "update", "execSQL")
    },
    "Ljava/nio/file/Files;->write": Sink("local", "file", None),
    **{
        f"Landroid/content/ContentResolver;->{m}": Sink("ipc", "content-provider", None)
        for m in ("insert", "update", "bulkInsert", "call")
    },
}

NAMED_SINKS: dict[str, Sink] = {
    m: Sink("ipc", "intent", None)
    for m in (
        "sendBroadcast",
        "sendOrderedBroadcast",
        "sendStickyBroadcast",
        "startActivity",
        "startActivityForResult",
        "startService",
        "startForegroundService",
        "bindService",
        "setResult",
    )
}
"""Context/Activity methods, matched by name on any framework class (Context,
ContextWrapper, Activity, Service, Fragment...): an intent carrying the value leaves the
app's component."""

HANDLE_RESULTS: dict[str, Sink] = {
    **{f"{c}->getOutputStream": Sink("network", "http-body") for c in _HTTP_CONN},
    "Ljava/net/Socket;->getOutputStream": Sink("network", "socket"),
    "Ljavax/net/ssl/SSLSocket;->getOutputStream": Sink("network", "socket"),
}
"""Calls whose result is a way out: what is written to it is sent."""

NAMED_HANDLE_RESULTS: dict[str, Sink] = {"openFileOutput": Sink("local", "file")}

HANDLE_CONSTRUCTORS: dict[str, Sink] = {
    "Ljava/io/FileOutputStream;": Sink("local", "file"),
    "Ljava/io/FileWriter;": Sink("local", "file"),
    "Ljava/io/RandomAccessFile;": Sink("local", "file"),
}
"""``new X(...)`` of these is a handle when no other handle is wrapped (``new
PrintWriter(socketStream)`` is the socket's)."""

HANDLE_FIELDS: dict[str, Sink] = {
    "Ljava/lang/System;->out": Sink("local", "log"),
    "Ljava/lang/System;->err": Sink("local", "log"),
}

WRITE_NAMES = frozenset(
    {
        "write", "writeBytes", "writeChars", "writeUTF", "writeObject", "writeInt",
        "writeLong", "print", "println", "printf", "format", "append", "writeUtf8",
        "writeString",
    }
)  # fmt: skip
"""Methods that put their arguments into the stream/writer they are called on."""

TRANSFORMS: dict[str, str] = {
    **{f"Ljava/security/MessageDigest;->{m}": "hashed" for m in ("digest", "update")},
    **{f"Ljavax/crypto/Mac;->{m}": "hashed" for m in ("doFinal", "update")},
    **{
        f"Lorg/apache/commons/codec/digest/DigestUtils;->{m}": "hashed"
        for m in ("md5", "md5Hex", "sha1", "sha1Hex", "sha256", "sha256Hex", "sha512Hex", "shaHex")
    },
    **{f"Landroid/util/Base64;->{m}": "base64" for m in ("encode", "encodeToString")},
    **{f"Ljava/util/Base64$Encoder;->{m}": "base64" for m in ("encode", "encodeToString")},
    **{
        f"Lorg/apache/commons/codec/binary/Base64;->{m}": "base64"
        for m in ("encodeBase64", "encodeBase64String", "encodeBase64URLSafeString", "encode")
    },
    "Lokio/ByteString;->base64": "base64",
    "Ljava/lang/Integer;->toHexString": "hex",
    "Ljava/lang/Long;->toHexString": "hex",
    **{
        f"Lorg/apache/commons/codec/binary/Hex;->{m}": "hex"
        for m in ("encodeHex", "encodeHexString")
    },
    "Lokio/ByteString;->hex": "hex",
    **{f"Lorg/json/JSONObject;->{m}": "json" for m in ("put", "putOpt", "accumulate")},
    "Lorg/json/JSONArray;->put": "json",
    "Lcom/google/gson/Gson;->toJson": "json",
    "Ljava/net/URLEncoder;->encode": "url-encoded",
    "Landroid/net/Uri;->encode": "url-encoded",
    **{f"Ljavax/crypto/Cipher;->{m}": "encrypted" for m in ("doFinal", "update")},
}
"""Calls whose output is the input in another form."""

_CLEAN_NAMES = frozenset(
    {
        "equals", "equalsIgnoreCase", "isEmpty", "contains", "containsKey", "containsValue",
        "startsWith", "endsWith", "matches", "length", "size", "compareTo",
        "compareToIgnoreCase", "indexOf", "lastIndexOf", "hasNext", "has", "isNull",
        "getClass", "getResponseCode", "getResponseMessage", "getInputStream", "getErrorStream",
        "getHeaderField", "getContentLength", "read", "available",
    }
)  # fmt: skip
"""Results that do not carry the value: yes/no answers, sizes, positions, and what a
server sends back."""

_MUTATOR_PREFIXES = (
    "put", "add", "append", "insert", "set", "write", "push", "offer", "update",
    "accumulate", "store",
)  # fmt: skip
_MUTATOR_NAMES = frozenset(
    {"<init>", "url", "header", "post", "put", "patch", "method", "body", "query", "path",
     "host", "scheme", "fragment", "encodedQuery", "encodedPath", "appendQueryParameter",
     "addHeader", "print", "println", "format", "concat"}
)  # fmt: skip


def result_is_clean(name: str) -> bool:
    """Does a call named ``name`` return something that cannot carry its inputs?"""
    if name in _CLEAN_NAMES:
        return True
    for prefix in ("is", "has", "can"):
        if name.startswith(prefix) and len(name) > len(prefix) and name[len(prefix)].isupper():
            return True
    return False


def stores_into_receiver(name: str) -> bool:
    """Does an instance call named ``name`` store its arguments in its receiver?"""
    return name in _MUTATOR_NAMES or name.startswith(_MUTATOR_PREFIXES)


@dataclass(frozen=True, slots=True)
class Payload:
    """A dispatch that hands a value to a callback the framework will call."""

    arg: int
    """Invoke position of the value handed over (0 = receiver)."""
    callbacks: dict[str, int]
    """Callback name -> the callback's parameter word that receives it (0 = this)."""


_INTENT_CALLBACKS = {
    "onReceive": 2,
    "onStartCommand": 1,
    "onHandleIntent": 1,
    "onBind": 1,
    "onNewIntent": 1,
}
PAYLOADS: dict[str, Payload] = {
    "Landroid/os/AsyncTask;->execute": Payload(1, {"doInBackground": 1}),
    "Landroid/os/AsyncTask;->executeOnExecutor": Payload(2, {"doInBackground": 1}),
    **{
        f"Landroid/os/Handler;->{m}": Payload(1, {"handleMessage": 1})
        for m in ("sendMessage", "sendMessageDelayed", "sendMessageAtTime")
    },
}
NAMED_PAYLOADS: dict[str, Payload] = {
    m: Payload(1, _INTENT_CALLBACKS)
    for m in ("startService", "startForegroundService", "bindService", "sendBroadcast")
}
"""An intent handed to ``startService``/``sendBroadcast`` arrives as the component's
``Intent`` parameter (the component named by ``new Intent(ctx, X.class)``)."""

SINK_KINDS = ("network", "local", "ipc")
