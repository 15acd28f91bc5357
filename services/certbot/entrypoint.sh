#!/usr/bin/env bash
# infra-gen/certbot's entry point, one pass of the renewal loop:
#   1. certbot's defaults (/etc/letsencrypt/cli.ini, from the environment): every
#      certbot command here reads them, `docker exec ... certbot renew` too;
#   2. nginx needs a certificate to start: when none is served yet, a temporary
#      self-signed one (30 days) for the domain;
#   3. no certificate from the CA yet: wait until the load balancer serves the
#      webroot, then `certbot certonly --webroot`; otherwise `certbot renew` (which
#      acts within 30 days of expiry). The deploy hook installs what was issued;
#   4. sleep RENEW_EVERY_SECONDS (after a failed issuance: 60 s, doubling up to it),
#      then exec itself for the next pass (same process, so signals still reach it).
#
#   CERTBOT_DOMAIN CERTBOT_EMAIL ACME_SERVER CERTBOT_WEBROOT CERTBOT_SERVED_DIR
#   RENEW_EVERY_SECONDS  set by the generated compose file
#   CERTBOT_PROBE_URL    the load balancer's HTTP base URL (waited for before issuing)
#   REQUESTS_CA_BUNDLE   CA certificates trusted for the ACME server (tls.acme_ca_bundle)
set -euo pipefail

domain="${CERTBOT_DOMAIN:?}"
email="${CERTBOT_EMAIL:?}"
server="${ACME_SERVER:?}"
webroot="${CERTBOT_WEBROOT:-/var/www/certbot}"
served="${CERTBOT_SERVED_DIR:-/etc/letsencrypt/infra-gen}"
every="${RENEW_EVERY_SECONDS:-43200}"
backoff="${CERTBOT_BACKOFF:-60}"
config=/etc/letsencrypt
lineage="$config/live/$domain"

log() { printf 'certbot-entrypoint: %s\n' "$*" >&2; }

pause() {
    # Interruptible: a stop signal ends the sleep and the container at once.
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM INT QUIT
    sleep "$1" &
    sleeper=$!
    wait "$sleeper" || true
    trap - TERM INT QUIT
}

write_defaults() {
    umask 022
    cat >"$config/.cli.ini.new" <<INI
# Written by certbot-entrypoint at every pass (from the container's environment).
config-dir = $config
work-dir = /var/lib/letsencrypt
logs-dir = /var/log/letsencrypt
server = $server
email = $email
agree-tos = true
non-interactive = true
no-eff-email = true
key-type = ecdsa
deploy-hook = /usr/local/bin/certbot-deploy-hook
INI
    mv -f "$config/.cli.ini.new" "$config/cli.ini"
}

temporary_certificate() {
    [[ -s "$served/fullchain.pem" && -s "$served/privkey.pem" ]] && return 0
    umask 077
    mkdir -p "$served"
    log "no certificate served yet: a temporary self-signed one for $domain"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=$domain" -addext "subjectAltName=DNS:$domain" \
        -keyout "$served/.privkey.pem.new" -out "$served/.fullchain.pem.new" 2>/dev/null
    mv -f "$served/.privkey.pem.new" "$served/privkey.pem"
    mv -f "$served/.fullchain.pem.new" "$served/fullchain.pem"
}

webroot_served() {
    # A file in the webroot, read back through the load balancer: the CA's request
    # will get the same answer. Gives up after two minutes (certbot then says why).
    [[ -n "${CERTBOT_PROBE_URL:-}" ]] || return 0
    local dir="$webroot/.well-known/acme-challenge" name token tries=0
    name="infra-gen-probe-$$"
    token="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    mkdir -p "$dir"
    printf '%s' "$token" >"$dir/$name"
    until [[ "$(curl -fsS --max-time 3 "$CERTBOT_PROBE_URL/.well-known/acme-challenge/$name" \
                2>/dev/null || true)" == "$token" ]]; do
        if (( ++tries >= 60 )); then
            log "the load balancer does not serve $webroot yet; trying anyway"
            break
        fi
        sleep 2
    done
    rm -f "$dir/$name"
}

write_defaults
temporary_certificate
if [[ -e "$lineage/fullchain.pem" ]]; then
    # What certbot holds is what nginx serves (a restored volume, an interrupted hook).
    if ! cmp -s "$lineage/fullchain.pem" "$served/fullchain.pem"; then
        /usr/local/bin/certbot-deploy-hook "$lineage"
    fi
    certbot renew || log "certbot renew failed; next try in ${every} s"
    wait_for="$every"
else
    webroot_served
    log "requesting a certificate for $domain from $server"
    if certbot certonly --webroot --webroot-path "$webroot" --cert-name "$domain" \
        --domains "$domain"; then
        wait_for="$every"
        backoff=60
    else
        log "issuance failed; next try in ${backoff} s"
        wait_for="$backoff"
        backoff=$(( backoff * 2 > every ? every : backoff * 2 ))
    fi
fi
pause "$wait_for"
export CERTBOT_BACKOFF="$backoff"
exec "$0"
