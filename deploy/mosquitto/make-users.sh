#!/bin/sh
# Write the broker's configuration into DIR: mosquitto.conf and the ACL from this directory,
# and a password file with the users, their passwords from the environment
# (BMS_MQTT_PASSWORD, BMS_OPERATOR_PASSWORD, BMS_MONITOR_PASSWORD; BMS_HISTORIAN_PASSWORD,
# BMS_HOMEASSISTANT_PASSWORD and BMS_SITE_PASSWORD, where set, for the historian, Home
# Assistant and the site controller).
# On a site broker (docs/site-bridge.md), name the site's packs after DIR: each PACK gets a
# bridge user of that name, the user its pack's broker logs in with (bridge.conf), its
# password from BMS_BRIDGE_PASSWORD_<PACK> (the name in capitals, '-' and '.' as '_').
set -eu
dir="${1:?usage: make-users.sh DIR [PACK...]}"
shift
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$dir"
cp "$here/mosquitto.conf" "$here/acl" "$dir/"
: > "$dir/passwd"
mosquitto_passwd -b "$dir/passwd" bms-master "${BMS_MQTT_PASSWORD:?}"
mosquitto_passwd -b "$dir/passwd" operator "${BMS_OPERATOR_PASSWORD:?}"
mosquitto_passwd -b "$dir/passwd" monitor "${BMS_MONITOR_PASSWORD:?}"
if [ -n "${BMS_HISTORIAN_PASSWORD:-}" ]; then
    mosquitto_passwd -b "$dir/passwd" historian "$BMS_HISTORIAN_PASSWORD"
fi
if [ -n "${BMS_HOMEASSISTANT_PASSWORD:-}" ]; then
    mosquitto_passwd -b "$dir/passwd" homeassistant "$BMS_HOMEASSISTANT_PASSWORD"
fi
if [ -n "${BMS_SITE_PASSWORD:-}" ]; then
    mosquitto_passwd -b "$dir/passwd" site "$BMS_SITE_PASSWORD"
fi
bridges=""
for pack in "$@"; do
    # the ACL's bridge lines apply to every user: a pack named like a fixed user would let
    # that user write the pack's telemetry
    case "$pack" in
    "" | bms-master | operator | monitor | historian | homeassistant | site | *[!A-Za-z0-9_.-]*)
        echo "make-users: '$pack' cannot be a pack's bridge user" >&2
        exit 2
        ;;
    esac
    variable="BMS_BRIDGE_PASSWORD_$(printf %s "$pack" | tr 'a-z.-' 'A-Z__')"
    eval "password=\${$variable:-}" # the name is letters, digits and '_' only (checked above)
    if [ -z "$password" ]; then
        echo "make-users: set $variable (the bridge password of pack $pack)" >&2
        exit 2
    fi
    mosquitto_passwd -b "$dir/passwd" "$pack" "$password"
    bridges="$bridges, $pack"
done
chmod 0640 "$dir/passwd" "$dir/acl"
# the broker drops its privileges to the mosquitto user: that user must read them
if id mosquitto >/dev/null 2>&1; then chown mosquitto:mosquitto "$dir/passwd" "$dir/acl"; fi
echo "make-users: $dir/passwd has bms-master, operator, monitor${BMS_HISTORIAN_PASSWORD:+, historian}${BMS_HOMEASSISTANT_PASSWORD:+, homeassistant}${BMS_SITE_PASSWORD:+, site}$bridges"
