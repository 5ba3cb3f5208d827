#!/bin/sh
# ENTRYPOINT of the look-alike image, as in the real one: `docker run IMAGE app.handler`.
# `sam local invoke` does not use it: SAM starts its own emulator (/var/rapid/aws-lambda-rie).
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  if [ ! -x /usr/local/bin/aws-lambda-rie ]; then
    echo "no /usr/local/bin/aws-lambda-rie in this image: run it through sam local invoke" 1>&2
    exit 1
  fi
  exec /usr/local/bin/aws-lambda-rie "$RUNTIME_ENTRYPOINT"
else
  exec "$RUNTIME_ENTRYPOINT"
fi
