#!/bin/sh
# A multi-step external command (docs/jobs.md): a `sum_squares` job enqueues one `square` child
# per number, waits for them all, then adds up their results. Needs jq. Serve both kinds with it:
#   [kinds.sum_squares]
#   command = ["/bin/sh", "examples/fan_out.sh"]
#   [kinds.square]
#   command = ["/bin/sh", "examples/fan_out.sh"]
# and enqueue: spindle enqueue sum_squares --args '{"numbers": [1, 2, 3]}'
set -eu
job=$(cat)  # the job: id, kind, args, attempt, step, checkpoint, and children once it has some
get() { printf '%s' "$job" | jq -c "$1"; }

if [ "$(get .kind)" = '"square"' ]; then
  n=$(get .args.n)
  if [ "$n" -lt 0 ]; then echo "cannot square $n" >&2; exit 1; fi  # this child fails
  echo "{\"result\": {\"square\": $((n * n))}}"
  exit 0
fi

case $(get '.step // "split"') in
  '"split"')
    echo '{"progress": 0.1, "message": "splitting"}'
    # The children, and the step to resume at once every one of them has finished. They are
    # enqueued when this command exits with 0, in one transaction with the checkpoint.
    get '{enqueue: [.args.numbers[] | {kind: "square", args: {n: .}, max_attempts: 1}],
          next: "sum", checkpoint: {parts: (.args.numbers | length)}}'
    ;;
  '"sum"')
    echo '{"progress": 0.9, "message": "adding up"}'
    get '{result: {sum: ([.children[] | .result.square // 0] | add),
                   failed: ([.children[] | select(.state != "completed")] | length)}}'
    ;;
esac
