#!/bin/sh
# Rebuild phonehome's test APKs and firmware trees from the sources in src/.
#
# Needs (Debian): apktool (which runs aapt), zipalign, apksigner, a JDK (default-jdk-headless)
# and python3. CI does not run this: the built, signed APKs are committed.
#
#   apt-get install -y apktool aapt zipalign apksigner default-jdk-headless
#   sh tests/apks/build.sh
#
# Output:
#   built/<App>.apk                       one signed APK per source app (+ Weather-2.0.apk,
#                                         Weather-rotated.apk with a v3 signing lineage)
#   firmware/old, firmware/new            two extracted "system images" (before/after an
#                                         update): NEW adds AutoReg, removes ImeiLog and
#                                         ships Weather 2.0 signed by another key.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
KEYS="$HERE/keys"
PASS=pass:phonehome-test   # test-only keys, see keys/README.md
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

python3 "$HERE/make_blobs.py"

# build SRC_DIR OUT_APK KEYSTORE ALIAS [V1]
# V1=yes adds a v1 (JAR) signature beside v2 and v3; otherwise v2+v3 only.
build() {
    src=$1 out=$2 ks=$3 alias=$4 v1=${5:-no}
    copy="$WORK/src-$(basename "$out" .apk)"
    rm -rf "$copy" && cp -r "$src" "$copy"   # apktool leaves build/ caches in its input
    unsigned="$WORK/$(basename "$out").unsigned"
    aligned="$WORK/$(basename "$out").aligned"
    apktool b --quiet --force-all --frame-path "$WORK/framework" -o "$unsigned" "$copy"
    zipalign -f -p 4 "$unsigned" "$aligned"
    v1flag=false
    [ "$v1" = yes ] && v1flag=true
    apksigner sign --ks "$KEYS/$ks" --ks-key-alias "$alias" --ks-pass "$PASS" \
        --key-pass "$PASS" --v1-signing-enabled "$v1flag" --v2-signing-enabled true \
        --v3-signing-enabled true --out "$out" "$aligned"
    rm -f "$out.idsig"
}

mkdir -p "$HERE/built"
build "$HERE/src/autoreg" "$HERE/built/AutoReg.apk" test-platform.p12 platform yes
build "$HERE/src/weather" "$HERE/built/Weather.apk" test-platform.p12 platform yes
build "$HERE/src/imeilog" "$HERE/built/ImeiLog.apk" test-ec.p12 ec yes
build "$HERE/src/oatonly" "$HERE/built/OatOnly.apk" test-platform.p12 platform no
build "$HERE/src/bootweather" "$HERE/built/BootWeather.apk" test-ec.p12 ec yes
build "$HERE/src/flows" "$HERE/built/Flows.apk" test-vendor.p12 vendor yes

# Weather rotated: the platform key hands over to the vendor key (APK Signature Scheme v3
# proof-of-rotation lineage). v1 and v2 stay signed by the old key, v3 by the new one.
apksigner rotate --out "$WORK/lineage" \
    --old-signer --ks "$KEYS/test-platform.p12" --ks-key-alias platform --ks-pass "$PASS" \
    --key-pass "$PASS" \
    --new-signer --ks "$KEYS/test-vendor.p12" --ks-key-alias vendor --ks-pass "$PASS" \
    --key-pass "$PASS"
apksigner sign --lineage "$WORK/lineage" \
    --ks "$KEYS/test-platform.p12" --ks-key-alias platform --ks-pass "$PASS" --key-pass "$PASS" \
    --next-signer --ks "$KEYS/test-vendor.p12" --ks-key-alias vendor --ks-pass "$PASS" \
    --key-pass "$PASS" \
    --v1-signing-enabled true --v2-signing-enabled true --v3-signing-enabled true \
    --out "$HERE/built/Weather-rotated.apk" "$HERE/built/Weather.apk"
rm -f "$HERE/built/Weather-rotated.apk.idsig"

# Weather 2.0: same code, new version, signed by the vendor key (the signer change).
rm -rf "$WORK/weather2" && cp -r "$HERE/src/weather" "$WORK/weather2"
sed -i "s/versionCode: '1'/versionCode: '2'/; s/versionName: '1.0'/versionName: '2.0'/" \
    "$WORK/weather2/apktool.yml"
build "$WORK/weather2" "$HERE/built/Weather-2.0.apk" test-vendor.p12 vendor yes

# Firmware trees: directories laid out like an extracted system image.
rm -rf "$HERE/firmware"
place() {  # place TREE PARTITION KIND NAME APK
    dir="$HERE/firmware/$1/$2/$3/$4"
    mkdir -p "$dir"
    cp "$5" "$dir/$4.apk"
}
for tree in old new; do
    place $tree system priv-app OatOnly "$HERE/built/OatOnly.apk"
    python3 "$HERE/make_blobs.py" "$HERE/firmware/$tree/system/priv-app/OatOnly/oat/arm64/OatOnly.vdex"
done
place old product app Weather "$HERE/built/Weather.apk"
place old system app ImeiLog "$HERE/built/ImeiLog.apk"
place new product app Weather "$HERE/built/Weather-2.0.apk"
place new system priv-app AutoReg "$HERE/built/AutoReg.apk"

for apk in "$HERE"/built/*.apk; do
    apksigner verify "$apk" >/dev/null
done
echo "built: $(ls "$HERE/built" | tr '\n' ' ')"
