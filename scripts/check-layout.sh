#!/usr/bin/env bash
# Holds the code to the README's layout table: every C or C++ file under a
# folder the table names includes only the project folders its row's last
# column names ("anything": no rule), and a row that says "no libevent"
# includes no <event2/...>. Prints each breach; exits 1 if there is any.
set -euo pipefail
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
readme=$top/README.md
[ -r "$readme" ] || { echo "check-layout: cannot read $readme" >&2; exit 2; }

declare -A allow=() noevent=()
folders=()
# The table's rows: | `dir/` | what it holds | what it may include |
while IFS= read -r line; do
	dir=$(sed -n 's/^| `\([a-z0-9_-]*\)\/` |.*/\1/p' <<<"$line")
	[ -n "$dir" ] || continue
	last=${line%|}
	last=${last##*|}
	folders+=("$dir")
	if [[ $last == *anything* ]]; then
		allow[$dir]='*'
	else
		allow[$dir]=" $(grep -o '`[a-z0-9_-]*/`' <<<"$last" |
		    tr -d '`/' | tr '\n' ' ')"
	fi
	[[ $last == *"no libevent"* ]] && noevent[$dir]=1
done < <(sed -n '/^## Layout/,/^## /p' "$readme")
[ "${#folders[@]}" -gt 0 ] || {
	echo "check-layout: no layout table in $readme" >&2; exit 2; }

bad=0 files=0
for dir in "${folders[@]}"; do
	[ -d "$top/$dir" ] || { echo "check-layout: README names $dir/, which does not exist"; bad=1; continue; }
	[ "${allow[$dir]}" = '*' ] && continue
	while IFS= read -r -d '' f; do
		files=$((files + 1))
		rel=${f#"$top"/}
		while IFS=: read -r n inc; do
			case $inc in
			*'<event2/'*)
				if [ -n "${noevent[$dir]:-}" ]; then
					echo "$rel:$n: includes libevent, which $dir/ may not"
					bad=1
				fi ;;
			*'"'*/*'"'*)
				to=${inc#*\"}
				to=${to%%/*}
				if [[ ${allow[$dir]} != *" $to "* ]]; then
					echo "$rel:$n: includes $to/, which $dir/ may not (README, Layout)"
					bad=1
				fi ;;
			esac
		done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f" || true)
	done < <(find "$top/$dir" -maxdepth 1 \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print0)
done
# A source folder the table does not name is a breach too.
while IFS= read -r -d '' f; do
	d=$(dirname "${f#"$top"/}")
	d=${d%%/*}
	[ -n "${allow[$d]:-}" ] || { echo "${f#"$top"/}: in $d/, which the README's layout table does not name"; bad=1; }
done < <(cd "$top" && git ls-files -z '*.c' '*.h' '*.cc' 2>/dev/null | sed -z "s#^#$top/#" || true)
[ "$bad" -eq 0 ] && echo "check-layout: $files files in ${#folders[@]} folders obey the README's layout table"
exit "$bad"
