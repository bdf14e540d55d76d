// RIFF/WAVE parsing: PCM 16-bit (format 1), IEEE float 32-bit (format 3) and WAVE_FORMAT_EXTENSIBLE
// (0xFFFE) with either subformat. Unknown chunks (LIST, fact, ...) are skipped, odd-sized chunks are
// padded to even length.
//
// Data chunk length rules: a data size of 0xFFFFFFFF, or a RIFF size that is a placeholder (0 or
// 0xFFFFFFFF) or fits inside the bytes we have, marks a streamed WAV whose data runs to the end of the
// file. Otherwise the RIFF header promises more bytes than the file holds: if the data chunk is then
// shorter than declared, the file was cut short (`truncated_audio`).
import { badRequest } from '@synthians/kit';
import { assertSupportedFormat, decodeFramesToMono, type PcmEncoding, type PcmFormat } from './pcm.ts';
import { resample, TARGET_SAMPLE_RATE } from './resample.ts';

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
// KSDATAFORMAT_SUBTYPE_* GUID tail after the 2-byte format code: 0000-0010-8000-00aa00389b71.
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
const FORMAT_NAMES: Record<number, string> = {
  2: 'MS ADPCM',
  6: 'A-law',
  7: 'mu-law',
  0x11: 'IMA ADPCM',
  0x55: 'MP3',
};

export interface WavInfo {
  format: PcmFormat;
  /** Byte offset and length of the sample data inside the file. */
  dataOffset: number;
  dataLength: number;
  /** True when the data size was a placeholder and the data was read to the end of the file. */
  streamed: boolean;
}

export interface DecodedAudio {
  /** Mono samples at 16 kHz in [-1, 1]. */
  samples: Float32Array;
  sampleRate: number;
  /** The source format as found in the file. */
  source: PcmFormat;
}

const invalid = (message: string, details?: unknown) => badRequest('invalid_wav', message, details);
const truncated = (message: string, details?: unknown) => badRequest('truncated_audio', message, details);
const unsupported = (message: string, details?: unknown) =>
  badRequest('unsupported_audio_format', message, details);

const fourcc = (v: DataView, at: number) =>
  String.fromCharCode(v.getUint8(at), v.getUint8(at + 1), v.getUint8(at + 2), v.getUint8(at + 3));

function parseFmt(v: DataView, at: number, size: number): PcmFormat {
  if (size < 16) throw invalid(`fmt chunk is ${size} bytes; at least 16 are required`);
  let tag = v.getUint16(at, true);
  const channels = v.getUint16(at + 2, true);
  const sampleRate = v.getUint32(at + 4, true);
  const blockAlign = v.getUint16(at + 12, true);
  const bits = v.getUint16(at + 14, true);
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    if (size < 40 || v.getUint16(at + 16, true) < 22) {
      throw invalid('WAVE_FORMAT_EXTENSIBLE fmt chunk is too short for its extension');
    }
    tag = v.getUint16(at + 24, true);
    for (let i = 0; i < GUID_TAIL.length; i++) {
      if (v.getUint8(at + 26 + i) !== GUID_TAIL[i])
        throw unsupported('Unsupported WAVE_FORMAT_EXTENSIBLE subformat GUID');
    }
  }
  if (channels === 0) throw invalid('fmt chunk declares 0 channels');
  if (sampleRate === 0) throw invalid('fmt chunk declares a sample rate of 0');
  let encoding: PcmEncoding;
  if (tag === WAVE_FORMAT_PCM && bits === 16) encoding = 'pcm_s16le';
  else if (tag === WAVE_FORMAT_IEEE_FLOAT && bits === 32) encoding = 'pcm_f32le';
  else if (tag === WAVE_FORMAT_PCM || tag === WAVE_FORMAT_IEEE_FLOAT) {
    throw unsupported(
      `Unsupported ${tag === WAVE_FORMAT_PCM ? 'integer PCM' : 'float'} bit depth ${bits}; use 16-bit PCM or 32-bit float`,
      { formatTag: tag, bitsPerSample: bits },
    );
  } else {
    const name = FORMAT_NAMES[tag] ?? `format 0x${tag.toString(16)}`;
    throw unsupported(`Unsupported WAV encoding ${name}; use 16-bit PCM or 32-bit float`, { formatTag: tag });
  }
  const format: PcmFormat = { encoding, sampleRate, channels };
  assertSupportedFormat(format);
  if (blockAlign !== (channels * bits) / 8) {
    throw invalid(`fmt block align ${blockAlign} does not match ${channels} channel(s) of ${bits} bits`);
  }
  return format;
}

/** Parses the RIFF/WAVE structure and locates the sample data. Throws AppError(400) on bad input. */
export function parseWav(bytes: Uint8Array): WavInfo {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  if (len < 12 || fourcc(v, 0) !== 'RIFF' || fourcc(v, 8) !== 'WAVE') {
    throw invalid('Not a RIFF/WAVE file (missing RIFF....WAVE header)');
  }
  const riffSize = v.getUint32(4, true);
  const riffPlaceholder = riffSize === 0 || riffSize === 0xffffffff || riffSize + 8 <= len;
  let format: PcmFormat | null = null;
  let pos = 12;
  for (;;) {
    if (pos + 8 > len) {
      if (pos < len || !riffPlaceholder) {
        throw truncated(`WAV file ends before its ${format ? 'data' : 'fmt'} chunk`, { fileBytes: len });
      }
      throw invalid(`WAV file has no ${format ? 'data' : 'fmt'} chunk`);
    }
    const id = fourcc(v, pos);
    const size = v.getUint32(pos + 4, true);
    const body = pos + 8;
    if (id === 'data') {
      if (!format) throw invalid('WAV data chunk comes before the fmt chunk');
      const available = len - body;
      let dataLength = size;
      let streamed = false;
      if (size === 0xffffffff || size > available) {
        if (size !== 0xffffffff && !riffPlaceholder) {
          throw truncated(`WAV data chunk declares ${size} bytes but only ${available} are present`, {
            declaredBytes: size,
            availableBytes: available,
          });
        }
        dataLength = available;
        streamed = true;
      } else if (size === 0 && (riffSize === 0 || riffSize === 0xffffffff) && available > 0) {
        dataLength = available;
        streamed = true;
      }
      const frameBytes = (format.encoding === 'pcm_s16le' ? 2 : 4) * format.channels;
      if (dataLength % frameBytes !== 0) {
        throw truncated(
          `WAV data ends in the middle of a frame (${dataLength % frameBytes} dangling bytes)`,
          {
            dataBytes: dataLength,
            frameBytes,
          },
        );
      }
      return { format, dataOffset: body, dataLength, streamed };
    }
    if (body + size > len) {
      throw truncated(`WAV ${JSON.stringify(id)} chunk declares ${size} bytes but the file ends first`);
    }
    if (id === 'fmt ') {
      if (format) throw invalid('WAV file has more than one fmt chunk');
      format = parseFmt(v, body, size);
    }
    pos = body + size + (size & 1);
  }
}

/** Decodes a WAV file to mono float samples at its own rate. */
export function decodeWavNative(bytes: Uint8Array): { samples: Float32Array; format: PcmFormat } {
  const info = parseWav(bytes);
  const data = bytes.subarray(info.dataOffset, info.dataOffset + info.dataLength);
  return {
    samples: decodeFramesToMono(data, info.format.encoding, info.format.channels),
    format: info.format,
  };
}

/** Decodes a WAV file to 16 kHz mono float samples. */
export function decodeWav(bytes: Uint8Array): DecodedAudio {
  const { samples, format } = decodeWavNative(bytes);
  return {
    samples: resample(samples, format.sampleRate, TARGET_SAMPLE_RATE),
    sampleRate: TARGET_SAMPLE_RATE,
    source: format,
  };
}
