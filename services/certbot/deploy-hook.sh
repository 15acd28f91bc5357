#!/usr/bin/env bash
# certbot's deploy hook (and the entrypoint's "install what is there"): copies the
# lineage's key and full chain to the pair nginx serves, CERTBOT_SERVED_DIR. Each
# file is written beside its target and renamed over it, the key first and the
# certificate last: the load balancer reloads when the certificate changes, and by
# then the matching key is in place.
#   certbot-deploy-hook [LINEAGE]   (certbot sets RENEWED_LINEAGE)
set -euo pipefail

lineage="${1:-${RENEWED_LINEAGE:?certbot sets RENEWED_LINEAGE}}"
served="${CERTBOT_SERVED_DIR:?}"
umask 077
mkdir -p "$served"
cp -L "$lineage/privkey.pem" "$served/.privkey.pem.new"
cp -L "$lineage/fullchain.pem" "$served/.fullchain.pem.new"
mv -f "$served/.privkey.pem.new" "$served/privkey.pem"
# stdout: certbot reports a hook's stderr as "error output".
printf 'certbot-deploy-hook: %s installed as %s/fullchain.pem\n' "$lineage" "$served"
exec mv -f "$served/.fullchain.pem.new" "$served/fullchain.pem"
