#!/usr/bin/env bash
# Installs the system packages stepscope builds against (Debian 12; run as root or with sudo).
#   libncursesw5-dev  the terminal UI (CCurses)
#   libunwind-dev     remote native unwinding for the sampler (CUnwind; pulls liblzma-dev)
#   libelf-dev        ELF symbol tables for the sampler (CElf)
#   zlib1g-dev        streaming gzip inflate for .json.gz traces (CZlib; the fallback inflater)
#   libisal-dev       Intel ISA-L, the fast inflater for .json.gz traces (CISAL)
#   libsqlite3-dev    SQLite, to read Nsight Systems exports (.sqlite) read-only (CSQLite)
#   gzip              used by tests to make compressed fixtures
#   tmux              the terminal UI's end-to-end test runs stepscope in a tmux pane (Tests/CLITests/TUITests.swift)
#   slurm-wlm, munge  the scheduler test starts a one-node Slurm and runs examples/slurm/ on it (Tests/CLITests/SlurmTests.swift)
set -euo pipefail
packages=(libncursesw5-dev libunwind-dev libelf-dev zlib1g-dev libisal-dev libsqlite3-dev gzip tmux slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
