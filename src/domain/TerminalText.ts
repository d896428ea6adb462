const ESC = 0x1b
const BEL = 0x07
const ST = 0x9c
const CSI_8BIT = 0x9b
const OSC_8BIT = 0x9d

const isControl = (code: number): boolean =>
  (code < 0x20 && code !== 0x09 && code !== 0x0a) || (code >= 0x7f && code <= 0x9f)

/** After the parameters and intermediates of a CSI, its final byte; cut short by anything else. */
const csiEnd = (text: string, from: number): number => {
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0x40 && code <= 0x7e) return i + 1
    if (code < 0x20 || code > 0x3f) return i
  }
  return text.length
}

/** After the terminator of an OSC, DCS, SOS, PM or APC string; unterminated, the terminal hides the rest. */
const stringEnd = (text: string, from: number, belEnds: boolean): number => {
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === ST || (belEnds && code === BEL)) return i + 1
    if (code === ESC) return text.charCodeAt(i + 1) === 0x5c ? i + 2 : i
  }
  return text.length
}

const escapeEnd = (text: string, from: number): number => {
  const code = text.charCodeAt(from)
  if (code === 0x5b) return csiEnd(text, from + 1)
  if (code === 0x5d) return stringEnd(text, from + 1, true)
  if (code === 0x50 || code === 0x58 || code === 0x5e || code === 0x5f) return stringEnd(text, from + 1, false)
  let i = from
  while (i < text.length && text.charCodeAt(i) >= 0x20 && text.charCodeAt(i) <= 0x2f) i++
  const final = text.charCodeAt(i)
  return final >= 0x30 && final <= 0x7e ? i + 1 : i
}

const controlEnd = (text: string, at: number): number => {
  const code = text.charCodeAt(at)
  if (code === ESC) return escapeEnd(text, at + 1)
  if (code === CSI_8BIT) return csiEnd(text, at + 1)
  if (code === OSC_8BIT) return stringEnd(text, at + 1, true)
  if (code === 0x90 || code === 0x98 || code === 0x9e || code === 0x9f) return stringEnd(text, at + 1, false)
  return at + 1
}

/** Escape sequences and control strings, C1 controls, and C0 controls but tab and newline go. */
export const stripTerminalControls = (text: string): string => {
  let out = ""
  let kept = 0
  let i = 0
  while (i < text.length) {
    if (!isControl(text.charCodeAt(i))) {
      i++
      continue
    }
    out += text.slice(kept, i)
    i = controlEnd(text, i)
    kept = i
  }
  return kept === 0 ? text : out + text.slice(kept)
}
