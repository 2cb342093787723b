#!/usr/bin/env bash
# Holds the code to the README's layout table: every C or C++ file in a
# folder the table names includes only the project folders its row's last
# column names ("anything": no rule), and a row that says "no libevent"
# includes no <event2/...>. A file belongs to the longest folder of the
# table that holds it (tests/lab/ is under tests/); a source file under no
# folder of the table is a breach too. Prints each breach; exits 1 if any.
set -euo pipefail
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
readme=$top/README.md
[ -r "$readme" ] || { echo "check-layout: cannot read $readme" >&2; exit 2; }

declare -A allow=() noevent=()
folders=()
# The table's rows: | `dir/` | what it holds | what it may include |
while IFS= read -r line; do
	dir=$(sed -n 's/^| `\([a-z0-9_/-]*\)\/` |.*/\1/p' <<<"$line")
	[ -n "$dir" ] || continue
	last=${line%|}
	last=${last##*|}
	folders+=("$dir")
	if [[ $last == *anything* ]]; then
		allow[$dir]='*'
	else
		allow[$dir]=" $(grep -o '`[a-z0-9_/-]*/`' <<<"$last" |
		    sed 's/`//g; s#/$##' | tr '\n' ' ')"
	fi
	[[ $last == *"no libevent"* ]] && noevent[$dir]=1
done < <(sed -n '/^## Layout/,/^## /p' "$readme")
[ "${#folders[@]}" -gt 0 ] || {
	echo "check-layout: no layout table in $readme" >&2; exit 2; }

# The longest folder of the table that holds path ("": none).
row_of() {
	local d best='' f
	d=$(dirname "$1")
	for f in "${folders[@]}"; do
		if [[ $d == "$f" || $d == "$f"/* ]] && [ ${#f} -gt ${#best} ]; then
			best=$f
		fi
	done
	printf '%s' "$best"
}

# The sources: git's list in a checkout, else (a release's tree, as make
# distcheck unpacks it) every C or C++ file but a build's (_build/, and
# the folders configure ran in).
sources() {
	local list
	list=$(cd "$top" && git ls-files -- '*.c' '*.h' '*.cc' 2>/dev/null || true)
	if [ -n "$list" ]; then
		printf '%s\0' $list
		return
	fi
	(cd "$top" && find . \( -name _build -o -name autom4te.cache \) -prune -o \
	    -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print |
	    sed 's#^\./##' | grep -vxE 'config\.h|cxx\.cc|negotiator/status-html\.c' |
	    tr '\n' '\0')
}

bad=0 files=0
for dir in "${folders[@]}"; do
	[ -d "$top/$dir" ] || { echo "check-layout: README names $dir/, which does not exist"; bad=1; }
done
while IFS= read -r -d '' rel; do
	row=$(row_of "$rel")
	if [ -z "$row" ]; then
		echo "$rel: in a folder the README's layout table does not name"
		bad=1
		continue
	fi
	[ "${allow[$row]}" = '*' ] && continue
	# A file of a subfolder the table does not name: a breach too.
	if [ "$(dirname "$rel")" != "$row" ]; then
		echo "$rel: in $(dirname "$rel")/, which the README's layout table does not name"
		bad=1
		continue
	fi
	files=$((files + 1))
	while IFS=: read -r n inc; do
		case $inc in
		*'<event2/'*)
			if [ -n "${noevent[$row]:-}" ]; then
				echo "$rel:$n: includes libevent, which $row/ may not"
				bad=1
			fi ;;
		*'"'*/*'"'*)
			to=${inc#*\"}
			to=${to%\"*}
			to=$(dirname "$to")
			if [[ ${allow[$row]} != *" $to "* ]]; then
				echo "$rel:$n: includes $to/, which $row/ may not (README, Layout)"
				bad=1
			fi ;;
		esac
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$top/$rel" || true)
done < <(sources)
[ "$bad" -eq 0 ] && echo "check-layout: $files files in ${#folders[@]} folders obey the README's layout table"
exit "$bad"
