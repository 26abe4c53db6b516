#!/bin/sh
# An example job handler: reads the job as JSON on stdin and appends a greeting to
# spindle-hello.txt in the working directory. Exit 0 marks the job completed.
read -r job
echo "$(date -u +%FT%TZ) hello, job $job" >> spindle-hello.txt
