import { readFileSync } from 'node:fs';
import ts from 'typescript';

const FIXTURE = 'test/types/typed-client.fixture.ts';

describe('TaskClient typing', () => {
  it('types arguments and results from the decorated method: every BAD line fails, the rest compile', () => {
    const config = ts.getParsedCommandLineOfConfigFile(
      'tsconfig.json',
      {},
      { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
    )!;
    const program = ts.createProgram([FIXTURE], { ...config.options, noEmit: true });
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName.endsWith(FIXTURE));
    const errorLines = new Set(diagnostics.map((d) => d.file!.getLineAndCharacterOfPosition(d.start!).line + 1));
    const lines = readFileSync(FIXTURE, 'utf8').split('\n');
    const badLines = lines.flatMap((text, i) => (text.includes('// BAD') ? [i + 1] : []));
    expect(badLines).toHaveLength(5);
    expect([...errorLines].sort((a, b) => a - b)).toEqual(badLines);
  }, 60_000);
});
