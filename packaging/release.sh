#!/bin/sh
# Builds the release archive of pvwarden and its krew plugin manifest.
#
#   packaging/release.sh [OUT_DIR]
#
# Environment:
#   PVWARDEN_BIN   the binary to package; default: a static musl release build made here
#                  (cargo build --release --target x86_64-unknown-linux-musl)
#   CARGO_TARGET_DIR
#                  where cargo puts that build, as for cargo itself; default: target/ in the
#                  workspace. The default OUT_DIR is under it too.
#   VERSION        the release, e.g. v0.1.0; default: the workspace version
#   BASE_URI       where the archive will be downloaded from
#
# Writes OUT_DIR/pvwarden-VERSION-linux-amd64.tar.gz (the binary, README.md, shell
# completions, man pages) and OUT_DIR/pvwarden.yaml (the krew manifest, with the archive's
# sha256). The archive is reproducible: fixed order, owner and modification time.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
# cargo resolves a relative CARGO_TARGET_DIR against the directory it runs in, which is
# this script's working directory too.
target_dir=${CARGO_TARGET_DIR:-"$root/target"}
out=${1:-"$target_dir/release-archive"}
version=${VERSION:-v$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)}
base_uri=${BASE_URI:-https://example.invalid/pvwarden/releases/download/$version}

if [ -z "${PVWARDEN_BIN:-}" ]; then
    cargo build --release --locked --target x86_64-unknown-linux-musl -p pvwarden \
        --manifest-path "$root/Cargo.toml"
    PVWARDEN_BIN="$target_dir/x86_64-unknown-linux-musl/release/pvwarden"
fi

name="pvwarden-$version-linux-amd64"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/completions" "$stage/man" "$out"
cp "$PVWARDEN_BIN" "$stage/pvwarden"
chmod 0755 "$stage/pvwarden"
cp "$root/README.md" "$stage/README.md"
for shell in bash zsh fish; do
    "$stage/pvwarden" completions "$shell" > "$stage/completions/pvwarden.$shell"
done
"$stage/pvwarden" man --dir "$stage/man"

archive="$out/$name.tar.gz"
(cd "$stage" && find . -type f | LC_ALL=C sort | sed 's|^\./||' > "$stage.list")
tar -C "$stage" --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00:00Z' \
    -cf - -T "$stage.list" | gzip -n -9 > "$archive"
rm -f "$stage.list"

sha=$(sha256sum "$archive" | cut -d ' ' -f 1)
sed -e "s|@VERSION@|$version|" -e "s|@URI@|$base_uri/$name.tar.gz|" -e "s|@SHA256@|$sha|" \
    "$root/packaging/krew/pvwarden.yaml.in" > "$out/pvwarden.yaml"
echo "$archive"
echo "$out/pvwarden.yaml"
