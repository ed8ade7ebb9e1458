#!/usr/bin/env bash
# Installs obi-scalp as a systemd service (run as root; the README's "Install as a service"
# follows these steps). Idempotent: running it again updates the binary and the units and keeps
# the configs and credentials already in /etc/obi-scalp.
#
#   scripts/install.sh [--bin PATH] [--live]     install (default binary: target/release/obi-scalp)
#   scripts/install.sh --uninstall [--purge]     stop and remove (--purge: also /etc/obi-scalp
#                                                and /var/lib/obi-scalp, with the journal and logs)
#
# What goes where:
#   /usr/local/bin/obi-scalp                       the binary (0755)
#   /etc/systemd/system/obi-scalp.service, obi-scalp@.service   the units (0644)
#   /etc/systemd/system/obi-scalp{,@}.service.d/live.conf       only with --live (credentials)
#   /usr/lib/sysusers.d/obi-scalp.conf             the service account, created by systemd-sysusers
#   /etc/obi-scalp/                                0750 root:obi-scalp
#   /etc/obi-scalp/{coincheck-btcjpy,bybit-btcusdt}.toml   from config/service/ (0640, kept if present)
#   /etc/obi-scalp/credentials/                    0700 root (LoadCredential= reads it as root)
# It does not enable or start anything: `systemctl enable --now obi-scalp` does.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$here/target/release/obi-scalp"
live=0
uninstall=0
purge=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bin="$2"; shift 2 ;;
        --live) live=1; shift ;;
        --uninstall) uninstall=1; shift ;;
        --purge) purge=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (it writes /usr/local/bin, /etc and /usr/lib/sysusers.d)" >&2
    exit 1
fi

units=/etc/systemd/system
etc=/etc/obi-scalp
# systemctl only when systemd runs (not in a chroot or an image being built).
booted() { [ -d /run/systemd/system ]; }
say() { echo "install.sh: $*"; }

if [ "$uninstall" = 1 ]; then
    if booted; then
        # Every instance that is loaded, then the plain unit.
        for u in $(systemctl list-units --all --plain --no-legend 'obi-scalp@*.service' 'obi-scalp-backup@*.timer' | awk '{print $1}') obi-scalp.service obi-scalp-backup.timer; do
            systemctl disable --now "$u" >/dev/null 2>&1 || true
        done
    fi
    rm -f /usr/local/bin/obi-scalp "$units/obi-scalp.service" "$units/obi-scalp@.service" \
        "$units/obi-scalp-backup.service" "$units/obi-scalp-backup.timer" \
        "$units/obi-scalp-backup@.service" "$units/obi-scalp-backup@.timer" \
        "$units/obi-scalp.service.d/live.conf" "$units/obi-scalp@.service.d/live.conf" \
        /usr/lib/sysusers.d/obi-scalp.conf
    rmdir "$units/obi-scalp.service.d" "$units/obi-scalp@.service.d" 2>/dev/null || true
    if [ "$purge" = 1 ]; then
        rm -rf "$etc" /var/lib/obi-scalp
        userdel obi-scalp 2>/dev/null || true
        say "removed, with $etc, /var/lib/obi-scalp and the obi-scalp account"
    else
        say "removed; kept $etc and /var/lib/obi-scalp (--purge removes them)"
    fi
    if booted; then systemctl daemon-reload; fi
    exit 0
fi

if [ ! -x "$bin" ]; then
    echo "install.sh: no binary at $bin: build it (cargo build --release) or pass --bin PATH" >&2
    exit 1
fi

# 1. The binary.
install -D -m 0755 "$bin" /usr/local/bin/obi-scalp
say "binary -> /usr/local/bin/obi-scalp ($(/usr/local/bin/obi-scalp --version))"

# 2. The service account (sysusers; useradd where systemd-sysusers is missing).
install -D -m 0644 "$here/systemd/obi-scalp.sysusers.conf" /usr/lib/sysusers.d/obi-scalp.conf
if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers /usr/lib/sysusers.d/obi-scalp.conf
elif ! id obi-scalp >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/obi-scalp --shell /usr/sbin/nologin obi-scalp
fi
say "account obi-scalp ($(id obi-scalp))"

# 3. The units (and, with --live, the credential drop-ins).
install -D -m 0644 "$here/systemd/obi-scalp.service" "$units/obi-scalp.service"
install -D -m 0644 "$here/systemd/obi-scalp@.service" "$units/obi-scalp@.service"
install -D -m 0644 "$here/systemd/obi-scalp-backup.service" "$units/obi-scalp-backup.service"
install -D -m 0644 "$here/systemd/obi-scalp-backup.timer" "$units/obi-scalp-backup.timer"
install -D -m 0644 "$here/systemd/obi-scalp-backup@.service" "$units/obi-scalp-backup@.service"
install -D -m 0644 "$here/systemd/obi-scalp-backup@.timer" "$units/obi-scalp-backup@.timer"
if [ "$live" = 1 ]; then
    install -D -m 0644 "$here/systemd/obi-scalp.service.d/live.conf" "$units/obi-scalp.service.d/live.conf"
    install -D -m 0644 "$here/systemd/obi-scalp@.service.d/live.conf" "$units/obi-scalp@.service.d/live.conf"
    say "live-mode credential drop-ins installed: put api_key and api_secret in $etc/credentials/"
fi
say "units -> $units"

# 4. Configs: root owns them, the service reads them; an existing (edited) copy is kept.
install -d -m 0750 -o root -g obi-scalp "$etc"
for f in "$here"/config/service/*.toml; do
    dst="$etc/$(basename "$f")"
    if [ -e "$dst" ]; then
        say "kept $dst (differs from $f: $(cmp -s "$f" "$dst" && echo no || echo yes))"
    else
        install -m 0640 -o root -g obi-scalp "$f" "$dst"
        say "config -> $dst"
    fi
done

# 5. Credentials: read by systemd (root) for LoadCredential=, never by the account directly.
install -d -m 0700 -o root -g root "$etc/credentials"
say "credentials directory $etc/credentials (0700 root; files 0400)"

if booted; then
    systemctl daemon-reload
    say "done: systemctl enable --now obi-scalp (or obi-scalp@bybit-btcusdt); daily journal backups: systemctl enable --now obi-scalp-backup.timer (or obi-scalp-backup@bybit-btcusdt.timer)"
else
    say "done (systemd not running here: no daemon-reload)"
fi
