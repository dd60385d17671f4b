# Reading an experiment file (conf/experiments/*.properties) from bash; sourced by the scripts of this folder.
# An experiment file is Java-properties-like: KEY=VALUE lines, '#' comments; 'base=FILE' (relative to the file) names
# a file whose keys apply where this one does not set them, so a variant lists only what it changes.
#   prop FILE KEY [DEFAULT]      the value, else DEFAULT, else fails naming the file and the key
#   prop_keys FILE PREFIX        the keys starting with PREFIX (the base's too), one per line, each once

prop_lookup() {  # FILE KEY: prints the value and succeeds when FILE or its bases set KEY
  local file="$1" key="$2" line base
  line="$(grep -E "^${key//./\\.}=" "$file" | tail -1)"
  if [[ -n "$line" ]]; then printf '%s\n' "${line#*=}"; return 0; fi
  base="$(grep -E '^base=' "$file" | tail -1)"; base="${base#base=}"
  [[ -n "$base" ]] && prop_lookup "$(dirname "$file")/$base" "$key"
}

prop() {
  local value
  if value="$(prop_lookup "$1" "$2")"; then printf '%s\n' "$value"
  elif [[ $# -ge 3 ]]; then printf '%s\n' "$3"
  else echo "$1: no key '$2' (nor in its base file); add it" >&2; return 1
  fi
}

prop_keys() {
  local file="$1" prefix="$2" base
  {
    grep -E "^${prefix//./\\.}[^=]*=" "$file" | cut -d= -f1
    base="$(grep -E '^base=' "$file" | tail -1)"; base="${base#base=}"
    [[ -n "$base" ]] && prop_keys "$(dirname "$file")/$base" "$prefix"
  } | awk '!seen[$0]++'
}
