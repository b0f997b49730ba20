#!/usr/bin/env bash
# Pull-request plan for an ObjectStack GitOps repository, shared by the GitHub Actions and GitLab CI
# examples beside it. It runs
#
#   objectstack plan --repo "$PLAN_REPO" --revision "$PR_HEAD"
#
# against the real tenants (nothing is applied) and writes a Markdown comment body to $PLAN_COMMENT,
# starting with a hidden marker so that the workflow updates one comment per pull request instead of
# adding one per push. Its exit code is objectstack's: 0 when every targeted tenant would converge,
# 1 when the revision is invalid or a tenant's plan is refused (destructive change not allowed) or
# fails, 2 on bad usage — the workflow posts the comment first and then fails the check with it.
#
# Environment: PR_HEAD (required), PLAN_REPO (default .), PLAN_COMMENT (default objectstack-plan.md),
# OBJECTSTACK (the CLI, default objectstack on PATH), and the tenant backend the reconciler uses:
# OBJECTSTACK_API_URL, OBJECTSTACK_ORG, TURSO_API_TOKEN, OBJECTSTACK_CONTROL_URL,
# OBJECTSTACK_CONTROL_TOKEN (read-only credentials are enough), or OBJECTSTACK_DATA_DIR.
set -uo pipefail

: "${PR_HEAD:?PR_HEAD must name the pull request head commit}"
repo="${PLAN_REPO:-.}"
comment="${PLAN_COMMENT:-objectstack-plan.md}"
cli="${OBJECTSTACK:-objectstack}"
marker='<!-- objectstack-plan -->'

plan=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$plan" "$errors"' EXIT

"$cli" plan --repo "$repo" --revision "$PR_HEAD" >"$plan" 2>"$errors"
code=$?

{
  echo "$marker"
  if [ -s "$plan" ]; then
    cat "$plan"
  else
    printf '### ObjectStack plan for `%s`\n\n' "$PR_HEAD"
  fi
  if [ "$code" -ne 0 ]; then
    printf '\n**This pull request cannot be merged as is:** `objectstack plan` exited %d' "$code"
    case "$code" in
      1) printf ' (the revision is invalid, or a tenant would be refused or fail).\n' ;;
      2) printf ' (bad usage: check the workflow).\n' ;;
      *) printf '.\n' ;;
    esac
    if [ -s "$errors" ]; then
      printf '\n```\n'
      cat "$errors"
      printf '```\n'
    fi
  fi
} >"$comment"

cat "$comment"
exit "$code"
