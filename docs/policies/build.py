#!/usr/bin/env python3
"""Builds docs/policies.md from the per-area files in docs/policies/.
Run from the docs folder: python3 policies/build.py"""
import re

ORDER = ['core', 'control', 'ratelimit', 'transform', 'validate-xml', 'gatewayscript', 'security', 'serverless', 'ltpa']

INTRO = '''# Assembly policies

Portico runs the policies of API Connect's assembly
(`x-ibm-configuration.assembly.execute`) with API Connect's field names and
defaults. Every setting is read and checked when the API loads: a problem is
reported as `file:line:column: field: message (what to do)` by
`portico validate` and by the gateway, which then keeps serving its previous
configuration. `portico policies` lists the policies of your build.

A policy that Portico does not have is a load error naming it. A name that is
not one of API Connect's built-in policies is reported as a user-defined
policy that is not installed.

Conventions: "template" means the field takes `$(variable)` references,
rendered per call; a "load error" stops the API from loading, a "load
warning" does not (API Connect accepts the same file).

This page is built from docs/policies/*.md by docs/policies/build.py.

'''


def headings(text):
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith('```'):
            fenced = not fenced
        elif not fenced and line.startswith('## '):
            out.append(line[3:].strip())
    return out


def anchor(s):
    return re.sub(r'[^a-z0-9 \-]', '', s.lower()).replace(' ', '-')


parts = []
for name in ORDER:
    try:
        parts.append(open(f'policies/{name}.md').read().strip())
    except FileNotFoundError:
        pass
body = '\n\n'.join(parts)
index = '\n'.join(f'- [{h}](#{anchor(h)})' for h in headings(body))
open('policies.md', 'w').write(INTRO + index + '\n\n' + body + '\n')
