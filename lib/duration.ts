/** Durations written as a number and a unit ("5 minutes", "500ms"), with the units each caller accepts. */

/**
 * `text` in ms with the given `units` (ms per unit; a unit may also be written with a plural "s"; case and
 * blanks around do not matter), or null when it does not read as one. A unit `""` accepts a bare number.
 */
export function parseDurationIn(text: unknown, units: ReadonlyMap<string, number>): number | null {
  const m = typeof text === "string" ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text) : null;
  if (!m) return null;
  const word = m[2].toLowerCase();
  const unit = units.get(word) ?? (word.endsWith("s") ? units.get(word.slice(0, -1)) : undefined);
  return unit === undefined ? null : Math.round(Number(m[1]) * unit);
}
