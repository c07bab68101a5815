#!/bin/sh
# fetch.sh DEST - fetches BearSSL's Debian source package (pinned version,
# sha256-verified) and unpacks the upstream tree into DEST. The package
# source list is derived from this system's apt configuration, so no host
# is named here. Nothing fetched is ever committed.
set -eu
VERSION=0.6+dfsg.1
ORIG=bearssl_${VERSION}.orig.tar.xz
ORIG_SHA256=102a625bd8f6155260867a50c508df8d8c3f796985dd744df1a68e5cd1a79004
dest=$1
mkdir -p "$(dirname "$dest")"
work=$(cd "$(dirname "$dest")" && pwd)/fetch
mkdir -p "$work/lists/partial"

if [ -f "$work/$ORIG" ] && echo "$ORIG_SHA256  $work/$ORIG" | sha256sum -c - >/dev/null 2>&1; then
	: # cached and verified
else
	# deb-src entries for every deb entry of the system's sources.
	: > "$work/deb-src.sources"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && sed 's/^Types:.*deb$/Types: deb-src/' "$f" >> "$work/deb-src.sources" && echo >> "$work/deb-src.sources"
	done
	: > "$work/deb-src.list"
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list > "$work/deb-src.list"
	fi
	if [ -s "$work/deb-src.sources" ]; then srclist="$work/deb-src.sources"; else srclist="$work/deb-src.list"; fi
	opts="-o Dir::Etc::SourceList=$srclist -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$work/lists"
	# shellcheck disable=SC2086
	apt-get $opts update -qq >/dev/null 2>&1 || apt-get $opts update
	(cd "$work" && apt-get $opts source --download-only -qq "bearssl=0.6+dfsg.1-3" >/dev/null 2>&1 ||
		apt-get $opts source --download-only "bearssl=0.6+dfsg.1-3")
	echo "$ORIG_SHA256  $work/$ORIG" | sha256sum -c - >/dev/null || {
		echo "bearssl: checksum mismatch for $ORIG" >&2; rm -f "$work/$ORIG"; exit 1; }
fi
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
tar -xJf "$work/$ORIG" -C "$dest.tmp" --strip-components=1
rm -rf "$dest" && mv "$dest.tmp" "$dest"
touch "$dest/.ok"
echo "bearssl: $VERSION source verified (sha256 $ORIG_SHA256)"
