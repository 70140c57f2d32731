#!/usr/bin/env bats
# One meaning per short option letter across the suite (doc/options.md):
# every program's --help and man page show the letters of the table in
# doc/options.md and no other, each with the table's long name; and the old
# spellings the table lists still work as the options they stand for.

load helpers

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	cd "$BATS_TEST_TMPDIR"
}

# options.py WHAT: the checks, in python for the parsing. WHAT is clashes
# (letters across the --help texts), table (--help against doc/options.md)
# or man (--help against the man pages). Prints the problems, one a line,
# and fails when there is any.
options_check() {
	$PY - "$ROOT" "$1" <<-'EOF'
		import os, re, subprocess, sys
		root, what = sys.argv[1], sys.argv[2]
		progs = sorted(f[:-2] for f in os.listdir(root + '/cmd') if re.fullmatch(r'tf-[\w-]+\.c', f))
		def help_pairs(p):
		    r = subprocess.run([p, '--help'], capture_output=True, text=True)
		    if r.returncode or not r.stdout.startswith('usage: '):
		        sys.exit(f'{p} --help: status {r.returncode}, no usage')
		    return {m[1]: m[2] for m in re.finditer(r'^ +-(\w), --([\w-]+)', r.stdout, re.M)}
		def man_pairs(p):
		    s = open(f'{root}/man/{p}.1', encoding='utf-8').read()
		    pat = r'^\.B[IR]?\s+\\-(\w)\s*",\s*"?\s*\\-\\-((?:\w|\\?-)+)'
		    return {m[1]: m[2].replace('\\-', '-') for m in re.finditer(pat, s, re.M)}
		helps = {p: help_pairs(p) for p in progs}
		bad = []
		if what == 'clashes':
		    seen = {}
		    for p in progs:
		        for letter, name in helps[p].items():
		            seen.setdefault(letter, {}).setdefault(name, []).append(p)
		    for letter, names in sorted(seen.items()):
		        if len(names) > 1:
		            bad.append(f'-{letter}: ' + '; '.join(f'--{n} in {", ".join(ps)}' for n, ps in names.items()))
		elif what == 'table':
		    doc = open(root + '/doc/options.md', encoding='utf-8').read()
		    section = doc.split('## The letters', 1)[1].split('\n#', 1)[0]
		    rows = re.findall(r'^\| `-(\w)` \| `--([\w-]+)` \|[^|]*\| ([^|]*) \|$', section, re.M)
		    if len(rows) < 10:
		        sys.exit('doc/options.md: no table of letters under "## The letters"')
		    table = {}
		    for letter, name, where in rows:
		        where = where.strip()
		        if where.startswith('all'):
		            but = re.findall(r'tf-[\w-]+', where)
		            listed = [p for p in progs if p not in but]
		        else:
		            listed = [w.strip() for w in where.split(',')]
		        if letter in table:
		            bad.append(f'doc/options.md: -{letter} twice')
		        table[letter] = (name, set(listed))
		    for p in progs:
		        for letter, name in helps[p].items():
		            if letter not in table:
		                bad.append(f'{p}: -{letter}, --{name} is not in doc/options.md')
		            elif table[letter][0] != name:
		                bad.append(f'{p}: -{letter} is --{name}, doc/options.md says --{table[letter][0]}')
		            elif p not in table[letter][1]:
		                bad.append(f'{p}: -{letter}, --{name}: doc/options.md does not list {p}')
		    for letter, (name, listed) in table.items():
		        for p in sorted(listed):
		            if p not in helps:
		                bad.append(f'doc/options.md: -{letter} lists {p}, which is no program')
		            elif helps[p].get(letter) != name:
		                bad.append(f'doc/options.md: -{letter}, --{name} in {p}, whose --help lacks it')
		elif what == 'man':
		    for p in progs:
		        h, m = helps[p], man_pairs(p)
		        for letter in sorted(set(h) | set(m)):
		            if h.get(letter) != m.get(letter):
		                say = lambda n: f'--{n}' if n else 'not there'
		                bad.append(f'{p}: -{letter} is {say(h.get(letter))} in --help, {say(m.get(letter))} in the man page')
		        # every long option of --help has its entry (a .B line) in the man page
		        text = open(f'{root}/man/{p}.1', encoding='utf-8').read().replace('\\-', '-')
		        entries = '\n'.join(l for l in text.split('\n') if l.startswith('.B'))
		        r = subprocess.run([p, '--help'], capture_output=True, text=True)
		        for name in sorted(set(re.findall(r'^ +(?:-\w, )?--([\w-]+)', r.stdout, re.M))):
		            if not re.search(r'--' + re.escape(name) + r'(?![\w-])', entries):
		                bad.append(f'{p}: --{name} is in --help, not in the man page')
		print('\n'.join(bad))
		sys.exit(1 if bad else 0)
	EOF
}

@test "every letter means one thing: the same long option in every program's --help" {
	run options_check clashes
	assert_success
	assert_output ""
}

@test "the letters in the --help texts are exactly doc/options.md's table" {
	run options_check table
	assert_success
	assert_output ""
}

@test "the man pages show the letters and the long options their --help shows" {
	run options_check man
	assert_success
	assert_output ""
}

# old PROGRAM "OLD ARGS" "NEW ARGS" "WITHOUT": the old spelling (the first
# of OLD ARGS) does what the long option does (the same output and status)
# and something else than the arguments WITHOUT it do, so that the
# comparison says something.
old() {
	local prog=$1 a b none
	run sh -c "$prog $2 </dev/null 2>&1; echo status \$?"
	a=$output
	run sh -c "$prog $3 </dev/null 2>&1; echo status \$?"
	b=$output
	run sh -c "$prog $4 </dev/null 2>&1; echo status \$?"
	none=$output
	[ "$a" = "$b" ] || { echo "$prog $2: $a"; echo "$prog $3: $b"; return 1; }
	[ "$a" != "$none" ] || { echo "$prog $2: the same as $prog $4: $a"; return 1; }
}

@test "the old spellings still work as the options they stand for" {
	make_wav a.wav 4410 1
	M=$ROOT/models/compact.bin
	old tf-bench "-t 1,,2 -m $M" "--threads 1,,2 -m $M" "-m $M -j 1,,3"
	old tf-bench "-r 0 -m $M" "--runs 0 -m $M" "-m $M -w -1"
	old tf-bench "-s 1x2 -m $M" "--shape 1x2 -m $M" "-m $M -j 1,,3"
	old tf-corpus "-s -1 -o d" "--seed -1 -o d" "-o d --train -1"
	old tf-corpus "-t 0 -o d" "--seconds 0 -o d" "-o d --train -1"
	old tf-corpus "-f nonexistent.sf2 -o d --train 1 --test 0 -q" \
		"--soundfont nonexistent.sf2 -o d --train 1 --test 0 -q" "-o d --train -1"
	old tf-corpus "-j 0 -o d" "--jobs 0 -o d" "-o d --train -1"
	old tf-eval "-r a.wav" "--ref a.wav" "-e a.wav"
	old tf-eval "-m . -e a.wav" "--musdb . -e a.wav" "-e a.wav"
	old tf-eval "-j --ref a.wav -e a.wav" "--json --ref a.wav -e a.wav" "--ref a.wav -e a.wav"
	old tf-eval "-w 0 --ref a.wav -e a.wav" "--window 0 --ref a.wav -e a.wav" "--ref a.wav -e a.wav"
	old tf-eval "-t 0 --ref a.wav -e a.wav" "--taps 0 --ref a.wav -e a.wav" "--ref a.wav -e a.wav"
	old tf-export "-s 1x2 $M" "--shape 1x2 $M" "$M"
	old tf-export "-c nonexistent.json $M" "--config nonexistent.json $M" "$M"
	old tf-quant "-c x.stream -t q8 $M" "--calibrate x.stream -t q8 $M" "-t q8 $M"
	old tf-view "-H 1 -o x.png" "--height 1 -o x.png" "-o x.png"
	old tf-view "-c 0 -o x.png" "--channel 0 -o x.png" "-o x.png"
	[ ! -e d ] && [ ! -e x.png ]
}

@test "doc/options.md's old spellings are the ones tested here, and none is in a --help" {
	# the table's rows, as "program -letter"
	rows=$(sed -n '/^### Old spellings/,/^#/p' "$ROOT/doc/options.md" |
		sed -n 's/^| \(tf-[a-z-]*\) | `\(-[a-zA-Z]\)[^`]*` |.*/\1 \2/p')
	[ "$(echo "$rows" | wc -l)" -eq 17 ]
	tested=$(sed -n 's/^\told \(tf-[a-z-]*\) "\(-[a-zA-Z]\) .*/\1 \2/p' "$BATS_TEST_FILENAME")
	while read -r prog letter; do
		run $prog --help
		assert_success
		refute_output --regexp "^ +$letter, "
	done <<<"$rows"
	[ "$(echo "$rows" | sort -u)" = "$(echo "$tested" | sort -u)" ] || {
		echo "table: $rows"
		echo "tested: $tested"
		false
	}
}
