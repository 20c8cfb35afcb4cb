#!/bin/bash
D=/tmp/rec/$1
for p in gw proxy fake; do [ -f $D/$p.pid ] && kill $(cat $D/$p.pid) 2>/dev/null; done
sleep 2; for p in gw proxy fake; do [ -f $D/$p.pid ] && kill -9 $(cat $D/$p.pid) 2>/dev/null; done; true
