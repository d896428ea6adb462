#!/usr/bin/env bash
# spec-guard: keeps the docs honest about the code. Needs only bash, git and POSIX tools.
#
# usage: bash scripts/spec-guard.sh [--dry-run]
#
# Checks, one output line each (`ok`, `FAIL` or `skip` + what), then `spec-guard: N passed, F failed`:
#   docs-updated   source files (src/**, scripts/**, except *.md) changed against the base without any
#                  change under docs/ fail. Any change counts: an edit, a rewrite, a deleted page.
#   docs-budget    the Markdown under docs/ is at most one line for every 5 lines under src/ (never
#                  less than 200 lines): docs are kept true by rewriting, and growing them is no merit.
#   last-review    every docs/**/*.md carrying a `last_review: YYYY-MM-DD` line is at most 30 days old
#                  (today: $SPEC_GUARD_TODAY, else `date -u +%F`); an unparseable date or one more than a
#                  day in the future fails, naming the file. One check per such file.
# Exit: 1 when any check failed (0 with --dry-run, which reports the same); 2 on an unknown flag.
#
# The base of "changed against" is, first match wins:
#   1. $SPEC_GUARD_BASE (any ref or commit): the merge-base of it and HEAD;
#   2. origin/main when that ref exists: the merge-base of it and HEAD (a branch's own commits and
#      main's unpushed ones count);
#   3. the local `main` branch when HEAD is not main (another branch or detached, as in CI): the
#      merge-base of main and HEAD;
#   4. otherwise (on main with no upstream): HEAD, so only uncommitted work counts.
# In cases 1-3 committed, staged, unstaged and untracked (not ignored) files all count; in case 4 the
# staged, unstaged and untracked ones. Outside a git checkout (or without git) the check is skipped,
# not failed: there is nothing to compare against.
set -u

MAX_AGE_DAYS=30
SRC_LINES_PER_DOC_LINE=5
MIN_DOCS_BUDGET=200
dry_run=0

for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    -h | --help)
      echo "usage: spec-guard.sh [--dry-run]"
      exit 0
      ;;
    *)
      echo "spec-guard: unknown flag '$arg' (usage: spec-guard.sh [--dry-run])" >&2
      exit 2
      ;;
  esac
done

passed=0
failed=0

ok() { printf 'ok   %s\n' "$1"; passed=$((passed + 1)); }
fail() { printf 'FAIL %s\n' "$1"; failed=$((failed + 1)); }
skip() { printf 'skip %s\n' "$1"; }

# Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil), so date
# arithmetic needs neither GNU date nor node.
days_from_civil() {
  local y=$((10#$1)) m=$((10#$2)) d=$((10#$3))
  if ((m <= 2)); then y=$((y - 1)); fi
  local era=$(((y >= 0 ? y : y - 399) / 400))
  local yoe=$((y - era * 400))
  local mp=$(((m + 9) % 12))
  local doy=$(((153 * mp + 2) / 5 + d - 1))
  local doe=$((yoe * 365 + yoe / 4 - yoe / 100 + doy))
  echo $((era * 146097 + doe - 719468))
}

# Prints the day number of a valid YYYY-MM-DD; returns 1 for anything else.
parse_date() {
  local value=$1
  [[ $value =~ ^([0-9]{4})-([0-9]{2})-([0-9]{2})$ ]] || return 1
  local y=$((10#${BASH_REMATCH[1]})) m=$((10#${BASH_REMATCH[2]})) d=$((10#${BASH_REMATCH[3]}))
  ((m >= 1 && m <= 12 && d >= 1)) || return 1
  local dim=31
  case $m in
    4 | 6 | 9 | 11) dim=30 ;;
    2) if ((y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))); then dim=29; else dim=28; fi ;;
  esac
  ((d <= dim)) || return 1
  days_from_civil "$y" "$m" "$d"
}

in_git=0
if command -v git >/dev/null 2>&1 && root=$(git rev-parse --show-toplevel 2>/dev/null); then
  in_git=1
  cd "$root" || exit 2
fi

changed_files() {
  local base=$1
  if [[ -n $base ]]; then
    git diff --name-only --no-renames -z "$base" --
  elif git rev-parse --verify -q HEAD >/dev/null; then
    git diff --name-only --no-renames -z HEAD --
  else
    git ls-files -z
  fi
  git ls-files --others --exclude-standard -z
}

check_docs_updated() {
  if ((in_git == 0)); then
    skip "docs-updated: not a git checkout"
    return
  fi
  local base="" label current
  current=$(git symbolic-ref -q --short HEAD 2>/dev/null || true)
  if [[ -n ${SPEC_GUARD_BASE:-} ]]; then
    if ! git rev-parse --verify -q "${SPEC_GUARD_BASE}^{commit}" >/dev/null; then
      fail "docs-updated: base '$SPEC_GUARD_BASE' (SPEC_GUARD_BASE) is not a commit here"
      return
    fi
    label="$SPEC_GUARD_BASE"
  elif git rev-parse --verify -q refs/remotes/origin/main >/dev/null; then
    label="origin/main"
  elif [[ $current != "main" ]] && git rev-parse --verify -q refs/heads/main >/dev/null; then
    label="main"
  fi
  if [[ -n ${label:-} ]]; then
    if ! base=$(git merge-base "$label" HEAD 2>/dev/null); then
      fail "docs-updated: '$label' and HEAD share no history"
      return
    fi
    label="$label (merge-base ${base:0:12})"
  else
    label="HEAD (uncommitted changes)"
  fi

  # A path appears at most once: untracked files are never in the diff.
  local file docs=0
  local -a sources=()
  while IFS= read -r -d '' file; do
    case "$file" in
      docs/*) docs=$((docs + 1)) ;;
      *.md) ;;
      src/* | scripts/*) sources+=("$file") ;;
    esac
  done < <(changed_files "$base" | LC_ALL=C sort -z)

  local count=${#sources[@]}
  if ((count == 0)); then
    ok "docs-updated: no source changes against $label"
  elif ((docs > 0)); then
    ok "docs-updated: $count source file(s) and $docs doc(s) changed against $label"
  else
    local listed="${sources[*]:0:5}"
    ((count > 5)) && listed="$listed ..."
    fail "docs-updated: $count source file(s) changed against $label without a change under docs/: $listed"
  fi
}

check_last_review() {
  if [[ ! -d docs ]]; then
    skip "last-review: no docs/ directory"
    return
  fi
  local today_text=${SPEC_GUARD_TODAY:-$(date -u +%F)} today
  if ! today=$(parse_date "$today_text"); then
    fail "last-review: today '$today_text' is not a YYYY-MM-DD date"
    return
  fi
  local file line value day age found=0
  while IFS= read -r -d '' file; do
    line=$(grep -m1 -E '^[[:space:]]*last_review:' "$file") || continue
    found=1
    file=${file#./}
    value=${line#*last_review:}
    value=${value#"${value%%[![:space:]]*}"}
    value=${value%"${value##*[![:space:]]}"}
    if ! day=$(parse_date "$value"); then
      fail "last-review $file: '$value' is not a YYYY-MM-DD date"
      continue
    fi
    age=$((today - day))
    if ((age > MAX_AGE_DAYS)); then
      fail "last-review $file: $value is $age days old (limit $MAX_AGE_DAYS)"
    elif ((age < -1)); then
      fail "last-review $file: $value is in the future"
    else
      ok "last-review $file: $value ($age days old)"
    fi
  done < <(find ./docs -type f -name '*.md' -print0 | LC_ALL=C sort -z)
  ((found == 1)) || skip "last-review: no doc under docs/ carries a last_review line"
}

lines_under() {
  local dir=$1
  shift
  find "$dir" -type f "$@" -exec cat -- {} + 2>/dev/null | wc -l | tr -d ' '
}

check_docs_budget() {
  if [[ ! -d docs ]]; then
    skip "docs-budget: no docs/ directory"
    return
  fi
  local docs src=0 budget
  docs=$(lines_under ./docs -name '*.md')
  [[ -d src ]] && src=$(lines_under ./src)
  budget=$((src / SRC_LINES_PER_DOC_LINE))
  ((budget < MIN_DOCS_BUDGET)) && budget=$MIN_DOCS_BUDGET
  if ((docs > budget)); then
    fail "docs-budget: docs/ holds $docs lines of Markdown, over its budget of $budget (src/ has $src lines); rewrite what is no longer true instead of adding"
  else
    ok "docs-budget: docs/ holds $docs lines of Markdown, within its budget of $budget (src/ has $src lines)"
  fi
}

check_docs_updated
check_docs_budget
check_last_review

echo "spec-guard: $passed passed, $failed failed"
if ((failed > 0 && dry_run == 0)); then
  exit 1
fi
exit 0
