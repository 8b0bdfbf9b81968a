# Shared apt helpers for the install scripts (sourced, not run).
# Messages go to stderr: the scripts' stdout is for their results.

log() { echo "$(basename "$0"): $*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=
apt_update_once() {
    [ -n "$apt_updated" ] && return 0
    as_root apt-get update -qq >&2
    apt_updated=1
}

missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

# Install the Debian packages named that are not installed yet.
install_packages() {
    local need
    need=$(missing_packages "$@")
    [ -z "$need" ] && return 0
    log "installing: $(echo $need)"
    apt_update_once
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends $need >&2
}
