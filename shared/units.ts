// Sizes as Grove prints them, in decimal units as disks and networks count: "950 kB", "1.2 GB".

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']

export function bytesText(bytes: number): string {
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${BYTE_UNITS[unit]}`
}
