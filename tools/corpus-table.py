#!/usr/bin/env python3
"""Writes the README's corpus table: every compose file in the shared corpus
imported, counted and advised with 20 seeds by the given wharf binary.

    python3 tools/corpus-table.py target/release/wharf [../shared/compose-corpus]
"""
import subprocess, glob, os, re, sys
W = sys.argv[1]
CORPUS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), '../../shared/compose-corpus')
rows=[]
for f in sorted(glob.glob(os.path.join(CORPUS, '*.yaml'))):
    name=os.path.basename(f)[:-5].replace('docker_awesome-compose__','')
    imp=subprocess.run([W,'import',f],capture_output=True,text=True)
    # count containers: top-level entries under containers: {
    ron=imp.stdout
    cont=ron[ron.index('containers: {'):]
    n=len(re.findall(r'^        "[^"]+": \($',cont,re.M))
    adv=subprocess.run([W,'advise','--seeds','20',f],capture_output=True,text=True)
    warns=len([l for l in adv.stderr.splitlines() if l.startswith('warning:')])
    msgs=[l.split(': advice: ',1)[1] for l in adv.stdout.splitlines() if ': advice: ' in l]
    races=[];other=[]
    for m in msgs:
        r=re.match(r'(\S+) got ECONNREFUSED from (\S+) at start-up in (\d+) of (\d+)',m)
        if r: races.append(f'{r[1]}→{r[2]} {r[3]}/{r[4]}')
        else: other.append(m[:48]+';')
    rows.append(f"| {name} | {n} | {warns} | {len(msgs)} | {' '.join(races) if races else '-'} | {''.join(other) if other else '-'} |")
print('\n'.join(rows))
