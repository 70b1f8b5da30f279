/** The platform (`<os>-<arch>`) an executable's header declares, or a reason it has none. */
export function executablePlatform(buf: Buffer): { platform: string } | { problem: string } {
  if (buf.length >= 20 && buf.readUInt32BE(0) === 0x7f454c46) {
    // ELF: e_ident[EI_DATA] at 5 (1 = little endian), e_machine at 18.
    const machine = buf[5] === 1 ? buf.readUInt16LE(18) : buf.readUInt16BE(18);
    const arch = { 62: 'amd64', 183: 'arm64' }[machine];
    return arch ? { platform: `linux-${arch}` } : { problem: `ELF machine 0x${machine.toString(16)}` };
  }
  if (buf.length >= 8 && buf.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = buf.readUInt32LE(4);
    const arch = { 16777223: 'amd64', 16777228: 'arm64' }[cpu];
    return arch ? { platform: `darwin-${arch}` } : { problem: `Mach-O cpu 0x${cpu.toString(16)}` };
  }
  if (buf.length >= 0x40 && buf[0] === 0x4d && buf[1] === 0x5a) {
    const pe = buf.readUInt32LE(0x3c);
    if (pe + 6 <= buf.length && buf.readUInt32BE(pe) === 0x50450000) {
      const machine = buf.readUInt16LE(pe + 4);
      const arch = { 34404: 'amd64', 43620: 'arm64' }[machine];
      return arch ? { platform: `windows-${arch}` } : { problem: `PE machine 0x${machine.toString(16)}` };
    }
    return { problem: 'MZ header without a PE header' };
  }
  return { problem: 'not an ELF, Mach-O or PE executable' };
}
