#!/bin/sh
# Used by the Dockerfile's dependency layer: with only Cargo.toml and Cargo.lock copied in,
# creates a stub for the library, the main binary and every target that Cargo.toml declares
# ([[bin]], [[bench]], [[test]], [[example]], at their `path` or cargo's default place), so
# that `cargo build` can compile the dependencies alone. Cargo refuses a manifest whose
# declared targets have no file, even targets it is not asked to build. Existing files are
# left alone. Run from the crate's root.
set -eu
mkdir -p src
echo 'fn main() {}' > src/main.rs
: > src/lib.rs
awk '
function flush() {
  if (kind != "" && path == "" && name != "") {
    if (kind == "bin") path = "src/bin/" name ".rs"
    else if (kind == "bench") path = "benches/" name ".rs"
    else if (kind == "test") path = "tests/" name ".rs"
    else path = "examples/" name ".rs"
  }
  if (kind != "" && path != "") print path
  kind = ""; name = ""; path = ""
}
function value(line) {
  sub(/^[^=]*=[ \t]*["\047]/, "", line); sub(/["\047].*$/, "", line); return line
}
/^[ \t]*\[\[(bin|bench|test|example)\]\]/ { flush(); k = $0; gsub(/[][ \t]/, "", k); sub(/#.*/, "", k); kind = k; next }
/^[ \t]*\[/ { flush(); next }
kind != "" && /^[ \t]*name[ \t]*=/ { name = value($0) }
kind != "" && /^[ \t]*path[ \t]*=/ { path = value($0) }
END { flush() }
' Cargo.toml | while IFS= read -r file; do
  if [ ! -e "$file" ]; then
    mkdir -p "$(dirname "$file")"
    echo 'fn main() {}' > "$file"
    echo "stub: $file"
  fi
done
