#!/bin/sh
# Write the broker's configuration into DIR: mosquitto.conf and the ACL from this directory,
# and a password file with the users, their passwords from the environment
# (BMS_MQTT_PASSWORD, BMS_OPERATOR_PASSWORD, BMS_MONITOR_PASSWORD; BMS_HISTORIAN_PASSWORD
# and BMS_HOMEASSISTANT_PASSWORD, where set, for the historian and Home Assistant).
set -eu
dir="${1:?usage: make-users.sh DIR}"
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
chmod 0640 "$dir/passwd" "$dir/acl"
# the broker drops its privileges to the mosquitto user: that user must read them
if id mosquitto >/dev/null 2>&1; then chown mosquitto:mosquitto "$dir/passwd" "$dir/acl"; fi
echo "make-users: $dir/passwd has bms-master, operator, monitor${BMS_HISTORIAN_PASSWORD:+, historian}${BMS_HOMEASSISTANT_PASSWORD:+, homeassistant}"
