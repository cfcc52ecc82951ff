// Bytes kept past a read: each copy stays intact while later copies and reads go on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keep, keptAt } from '../../workers/net/kept-bytes.ts';

function kept(
  src: Buffer,
  start: number,
  end: number,
): { buf: Buffer; start: number; end: number } {
  const buf = keep(src, start, end);
  return { buf, start: keptAt, end: keptAt + (end - start) };
}

test('copies are packed into shared chunks and survive the source being overwritten', () => {
  const src = Buffer.alloc(64);
  const copies: { buf: Buffer; start: number; end: number; want: string }[] = [];
  // Enough small copies to fill more than one 16 KB chunk.
  for (let i = 0; i < 3000; i++) {
    const text = `+reply ${i}\r\n`;
    src.fill(0);
    src.write(text, 3, 'latin1');
    copies.push({ ...kept(src, 3, 3 + text.length), want: text });
    src.fill(0x78); // the next read lands where this one was
  }
  for (const c of copies) assert.equal(c.buf.toString('latin1', c.start, c.end), c.want);
  const chunks = new Set(copies.map((c) => c.buf));
  assert.ok(chunks.size > 1, 'more than one chunk was used');
  assert.ok(chunks.size < 10, `copies share chunks (${chunks.size} chunks for 3000 copies)`);
  // No two copies overlap: a chunk is never written twice.
  for (const chunk of chunks) {
    const ranges = copies.filter((c) => c.buf === chunk).sort((a, b) => a.start - b.start);
    for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i].start >= ranges[i - 1].end);
  }
});

test('a large copy gets a buffer of its own', () => {
  const src = Buffer.alloc(8192, 0x61);
  const small = kept(Buffer.from('+OK\r\n'), 0, 5);
  const large = kept(src, 100, 5100);
  assert.equal(large.start, 0);
  assert.equal(large.buf.length, 5000);
  assert.notEqual(large.buf, small.buf);
  src.fill(0x62);
  assert.equal(large.buf.toString('latin1', large.start, large.end), 'a'.repeat(5000));
  assert.equal(small.buf.toString('latin1', small.start, small.end), '+OK\r\n');
});
