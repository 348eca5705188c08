/* Optional single-pass kernels for the codec's byte transforms.
 *
 * Each function computes exactly what the numpy fallback in planes.py /
 * nibbles.py computes (the frame format does not depend on which ran); numpy
 * needs 5-14 whole-array passes for the same work. No entropy coding here:
 * zstd stays the only parser of compressed bytes. Little-endian hosts only
 * (the Python side checks). Every function releases the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline uint16_t rotl16(uint16_t x) { return (uint16_t)((x << 1) | (x >> 15)); }
static inline uint16_t rotr16(uint16_t x) { return (uint16_t)((x >> 1) | (x << 15)); }
static inline uint32_t rotl32(uint32_t x) { return (x << 1) | (x >> 31); }
static inline uint32_t rotr32(uint32_t x) { return (x >> 1) | (x << 31); }
static inline uint64_t rotl64(uint64_t x) { return (x << 1) | (x >> 63); }
static inline uint64_t rotr64(uint64_t x) { return (x >> 1) | (x << 63); }

static void split2(const uint8_t *src, uint8_t *dst, Py_ssize_t n, int rotate) {
    uint8_t *p0 = dst, *p1 = dst + n;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint16_t x;
        memcpy(&x, src + 2 * i, 2);
        if (rotate) x = rotl16(x);
        p0[i] = (uint8_t)x;
        p1[i] = (uint8_t)(x >> 8);
    }
}

static void split4(const uint8_t *src, uint8_t *dst, Py_ssize_t n, int rotate) {
    uint8_t *p0 = dst, *p1 = dst + n, *p2 = dst + 2 * n, *p3 = dst + 3 * n;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t x;
        memcpy(&x, src + 4 * i, 4);
        if (rotate) x = rotl32(x);
        p0[i] = (uint8_t)x;
        p1[i] = (uint8_t)(x >> 8);
        p2[i] = (uint8_t)(x >> 16);
        p3[i] = (uint8_t)(x >> 24);
    }
}

static void split8(const uint8_t *src, uint8_t *dst, Py_ssize_t n, int rotate) {
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t x;
        memcpy(&x, src + 8 * i, 8);
        if (rotate) x = rotl64(x);
        for (int b = 0; b < 8; b++) dst[b * n + i] = (uint8_t)(x >> (8 * b));
    }
}

static void join2(const uint8_t *const *p, uint8_t *dst, Py_ssize_t n, int rotate) {
    const uint8_t *p0 = p[0], *p1 = p[1];
    for (Py_ssize_t i = 0; i < n; i++) {
        uint16_t x = (uint16_t)(p0[i] | (p1[i] << 8));
        if (rotate) x = rotr16(x);
        memcpy(dst + 2 * i, &x, 2);
    }
}

#if defined(__SSE2__)
/* 16 elements of 4 planes -> 4 vectors of joined u32 (byte unpacks). */
static inline void unpack4x16(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2,
                              const uint8_t *p3, __m128i *z) {
    const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p0);
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p1);
    const __m128i c = _mm_loadu_si128((const __m128i *)(const void *)p2);
    const __m128i d = _mm_loadu_si128((const __m128i *)(const void *)p3);
    const __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
    const __m128i cd_lo = _mm_unpacklo_epi8(c, d), cd_hi = _mm_unpackhi_epi8(c, d);
    z[0] = _mm_unpacklo_epi16(ab_lo, cd_lo);
    z[1] = _mm_unpackhi_epi16(ab_lo, cd_lo);
    z[2] = _mm_unpacklo_epi16(ab_hi, cd_hi);
    z[3] = _mm_unpackhi_epi16(ab_hi, cd_hi);
}
#endif

static void join4(const uint8_t *const *p, uint8_t *dst, Py_ssize_t n, int rotate) {
    const uint8_t *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
    Py_ssize_t i0 = 0;
#if defined(__SSE2__) /* GCC's vectorization of the loop below ran at ~0.45 ns per element */
    for (; i0 + 16 <= n; i0 += 16) {
        __m128i z[4];
        unpack4x16(p0 + i0, p1 + i0, p2 + i0, p3 + i0, z);
        for (int k = 0; k < 4; k++) {
            __m128i x = z[k];
            if (rotate) x = _mm_or_si128(_mm_srli_epi32(x, 1), _mm_slli_epi32(x, 31));
            _mm_storeu_si128((__m128i *)(void *)(dst + 4 * i0 + 16 * k), x);
        }
    }
#endif
    for (Py_ssize_t i = i0; i < n; i++) {
        uint32_t x = (uint32_t)p0[i] | ((uint32_t)p1[i] << 8) | ((uint32_t)p2[i] << 16) |
                     ((uint32_t)p3[i] << 24);
        if (rotate) x = rotr32(x);
        memcpy(dst + 4 * i, &x, 4);
    }
}

static void join8(const uint8_t *const *p, uint8_t *dst, Py_ssize_t n, int rotate) {
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t x = 0;
        for (int b = 0; b < 8; b++) x |= (uint64_t)p[b][i] << (8 * b);
        if (rotate) x = rotr64(x);
        memcpy(dst + 8 * i, &x, 8);
    }
}

/* split(src, width, rotate, dst): dst[b*n + i] = byte b of (rotl(element i) if rotate). */
static PyObject *k_split(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer src, dst;
    int width, rotate;
    if (!PyArg_ParseTuple(args, "y*ipw*", &src, &width, &rotate, &dst)) return NULL;
    PyObject *result = NULL;
    if (src.len != dst.len || (width != 2 && width != 4 && width != 8) || src.len % width) {
        PyErr_SetString(PyExc_ValueError, "split: bad width or buffer sizes");
        goto done;
    }
    Py_ssize_t n = src.len / width;
    Py_BEGIN_ALLOW_THREADS;
    if (width == 2) split2(src.buf, dst.buf, n, rotate);
    else if (width == 4) split4(src.buf, dst.buf, n, rotate);
    else split8(src.buf, dst.buf, n, rotate);
    Py_END_ALLOW_THREADS;
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return result;
}

/* Borrow the ``width`` buffers of ``seq``, each ``n`` bytes, into planes/ptrs;
 * *got counts the buffers to release. -1 with a ValueError naming ``who``. */
static int get_planes(PyObject *seq, Py_ssize_t width, Py_ssize_t n, Py_buffer *planes,
                      const uint8_t **ptrs, Py_ssize_t *got, const char *who) {
    for (; *got < width; (*got)++) {
        PyObject *item = PySequence_GetItem(seq, *got);
        if (item == NULL) return -1;
        int rc = PyObject_GetBuffer(item, &planes[*got], PyBUF_SIMPLE);
        Py_DECREF(item);
        if (rc < 0) return -1;
        if (planes[*got].len != n) {
            (*got)++;
            PyErr_Format(PyExc_ValueError, "%s: plane length mismatch", who);
            return -1;
        }
        ptrs[*got] = planes[*got].buf;
    }
    return 0;
}

/* join(planes, rotate, dst): inverse of split; planes is a sequence of width buffers. */
static PyObject *k_join(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *seq;
    int rotate;
    Py_buffer dst;
    if (!PyArg_ParseTuple(args, "Opw*", &seq, &rotate, &dst)) return NULL;
    PyObject *result = NULL;
    Py_buffer planes[8];
    const uint8_t *ptrs[8];
    Py_ssize_t got = 0, width = PySequence_Size(seq);
    if (width != 2 && width != 4 && width != 8) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "join: need 2, 4 or 8 planes");
        goto done;
    }
    if (dst.len % width) {
        PyErr_SetString(PyExc_ValueError, "join: output not a whole number of elements");
        goto done;
    }
    Py_ssize_t n = dst.len / width;
    if (get_planes(seq, width, n, planes, ptrs, &got, "join") < 0) goto done;
    Py_BEGIN_ALLOW_THREADS;
    if (width == 2) join2(ptrs, dst.buf, n, rotate);
    else if (width == 4) join4(ptrs, dst.buf, n, rotate);
    else join8(ptrs, dst.buf, n, rotate);
    Py_END_ALLOW_THREADS;
    result = Py_None;
    Py_INCREF(result);
done:
    for (Py_ssize_t i = 0; i < got; i++) PyBuffer_Release(&planes[i]);
    PyBuffer_Release(&dst);
    return result;
}

/* Calls fn(index of the code) for every nibble == 15 in packed[0..pairs), in
 * order: a word-at-a-time test skips the (almost all) words with none. */
#define FOR_EACH_ESCAPE(packed, pairs, BODY)                                        \
    do {                                                                            \
        Py_ssize_t j_ = 0;                                                          \
        for (; j_ + 8 <= (pairs); j_ += 8) {                                        \
            uint64_t w_;                                                            \
            memcpy(&w_, (packed) + j_, 8);                                          \
            if (!(w_ & (w_ >> 1) & (w_ >> 2) & (w_ >> 3) & 0x1111111111111111ULL))  \
                continue;                                                           \
            for (Py_ssize_t k_ = j_; k_ < j_ + 8; k_++) {                           \
                if (((packed)[k_] & 15) == 15) { Py_ssize_t at = 2 * k_; BODY; }   \
                if (((packed)[k_] >> 4) == 15) { Py_ssize_t at = 2 * k_ + 1; BODY; } \
            }                                                                       \
        }                                                                           \
        for (; j_ < (pairs); j_++) {                                                \
            if (((packed)[j_] & 15) == 15) { Py_ssize_t at = 2 * j_; BODY; }        \
            if (((packed)[j_] >> 4) == 15) { Py_ssize_t at = 2 * j_ + 1; BODY; }    \
        }                                                                           \
    } while (0)

/* nib_pack(plane, base, packed, escapes) -> count.
 * code = (byte - base) mod 256, or 15 when that is >= 15 (the byte then goes
 * to escapes, in order); packed[j] = code[2j] | code[2j+1] << 4 (a missing
 * odd code is 0). packed holds ceil(n/2) bytes, escapes at least n. */
static PyObject *k_nib_pack(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer plane, packed, esc;
    int base;
    if (!PyArg_ParseTuple(args, "y*iw*w*", &plane, &base, &packed, &esc)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = plane.len, pairs = (n + 1) / 2, count = 0;
    if (packed.len != pairs || esc.len < n || base < 0 || base > 255) {
        PyErr_SetString(PyExc_ValueError, "nib_pack: bad buffer sizes or base");
        goto done;
    }
    const uint8_t *src = plane.buf;
    uint8_t *out = packed.buf, *e = esc.buf, b = (uint8_t)base;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t j = 0; j < n / 2; j++) { /* vectorizes: no data-dependent stores */
        uint8_t c0 = (uint8_t)(src[2 * j] - b), c1 = (uint8_t)(src[2 * j + 1] - b);
        c0 = c0 > 15 ? 15 : c0;
        c1 = c1 > 15 ? 15 : c1;
        out[j] = (uint8_t)(c0 | (c1 << 4));
    }
    if (n & 1) {
        uint8_t c0 = (uint8_t)(src[n - 1] - b);
        out[pairs - 1] = c0 > 15 ? 15 : c0;
    }
    FOR_EACH_ESCAPE(out, pairs, { if (at < n) e[count++] = src[at]; });
    Py_END_ALLOW_THREADS;
    result = PyLong_FromSsize_t(count);
done:
    PyBuffer_Release(&plane);
    PyBuffer_Release(&packed);
    PyBuffer_Release(&esc);
    return result;
}

/* nib_unpack(packed, base, escapes, out): inverse of nib_pack; ValueError when
 * the escape codes and the escaped bytes do not match one to one. */
static PyObject *k_nib_unpack(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer packed, esc, plane;
    int base;
    if (!PyArg_ParseTuple(args, "y*iy*w*", &packed, &base, &esc, &plane)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = plane.len, pairs = (n + 1) / 2, used = 0, count = esc.len;
    if (packed.len != pairs || base < 0 || base > 255) {
        PyErr_SetString(PyExc_ValueError, "nib_unpack: bad buffer sizes or base");
        goto done;
    }
    const uint8_t *src = packed.buf, *e = esc.buf;
    uint8_t *out = plane.buf, b = (uint8_t)base;
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t j = 0; j < n / 2; j++) {
        out[2 * j] = (uint8_t)((src[j] & 15) + b);
        out[2 * j + 1] = (uint8_t)((src[j] >> 4) + b);
    }
    if (n & 1) out[n - 1] = (uint8_t)((src[pairs - 1] & 15) + b);
    FOR_EACH_ESCAPE(src, pairs, {
        if (at < n) {
            if (used < count) out[at] = e[used];
            used++;
        }
    });
    Py_END_ALLOW_THREADS;
    if (used != count) {
        PyErr_SetString(PyExc_ValueError, "nib_unpack: escape count does not match the codes");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&packed);
    PyBuffer_Release(&esc);
    PyBuffer_Release(&plane);
    return result;
}

/* histogram(buf) -> bytes: 256 little-endian uint64 counts of the byte values
 * (np.bincount on uint8 first widens every byte to intp: ~10x slower). */
static PyObject *k_histogram(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "y*", &buf)) return NULL;
    uint64_t c[4][256];
    memset(c, 0, sizeof c);
    const uint8_t *p = buf.buf;
    Py_ssize_t n = buf.len, i = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (; i + 4 <= n; i += 4) { /* four tables: no store-to-load stall on repeats */
        c[0][p[i]]++;
        c[1][p[i + 1]]++;
        c[2][p[i + 2]]++;
        c[3][p[i + 3]]++;
    }
    for (; i < n; i++) c[0][p[i]]++;
    for (int v = 0; v < 256; v++) c[0][v] += c[1][v] + c[2][v] + c[3][v];
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&buf);
    return PyBytes_FromStringAndSize((const char *)c[0], sizeof c[0]);
}

/* Delta of fixed-width unsigned elements: "sub" = zigzag(target - base)
 * (wrapping), "xor" = target ^ base. One pass each way. */
#define DELTA_LOOPS(T, BITS)                                                        \
    static void delta_enc_##BITS(const uint8_t *t, const uint8_t *b, uint8_t *o,    \
                                 Py_ssize_t n, int sub) {                           \
        for (Py_ssize_t i = 0; i < n; i++) {                                        \
            T x, y, z;                                                              \
            memcpy(&x, t + i * sizeof(T), sizeof(T));                               \
            memcpy(&y, b + i * sizeof(T), sizeof(T));                               \
            if (sub) {                                                              \
                T d = (T)(x - y);                                                   \
                z = (T)((T)(d << 1) ^ (T)(0 - (T)(d >> (BITS - 1))));               \
            } else {                                                                \
                z = x ^ y;                                                          \
            }                                                                       \
            memcpy(o + i * sizeof(T), &z, sizeof(T));                               \
        }                                                                           \
    }                                                                               \
    static void delta_dec_##BITS(uint8_t *o, const uint8_t *b, Py_ssize_t n,        \
                                 int sub) {                                         \
        for (Py_ssize_t i = 0; i < n; i++) {                                        \
            T z, y, x;                                                              \
            memcpy(&z, o + i * sizeof(T), sizeof(T));                               \
            memcpy(&y, b + i * sizeof(T), sizeof(T));                               \
            if (sub) x = (T)((T)((T)(z >> 1) ^ (T)(0 - (T)(z & 1))) + y);           \
            else x = z ^ y;                                                         \
            memcpy(o + i * sizeof(T), &x, sizeof(T));                               \
        }                                                                           \
    }
DELTA_LOOPS(uint8_t, 8)
DELTA_LOOPS(uint16_t, 16)
DELTA_LOOPS(uint32_t, 32)
DELTA_LOOPS(uint64_t, 64)

/* delta(target, base, width, sub, out) and undelta(buf, base, width, sub):
 * buf (the delta) becomes the target in place. */
static PyObject *k_delta(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer t, b, o;
    int width, sub;
    if (!PyArg_ParseTuple(args, "y*y*ipw*", &t, &b, &width, &sub, &o)) return NULL;
    PyObject *result = NULL;
    if (t.len != b.len || t.len != o.len || (width != 1 && width != 2 && width != 4 && width != 8) ||
        t.len % width) {
        PyErr_SetString(PyExc_ValueError, "delta: bad width or buffer sizes");
        goto done;
    }
    Py_ssize_t n = t.len / width;
    Py_BEGIN_ALLOW_THREADS;
    if (width == 1) delta_enc_8(t.buf, b.buf, o.buf, n, sub);
    else if (width == 2) delta_enc_16(t.buf, b.buf, o.buf, n, sub);
    else if (width == 4) delta_enc_32(t.buf, b.buf, o.buf, n, sub);
    else delta_enc_64(t.buf, b.buf, o.buf, n, sub);
    Py_END_ALLOW_THREADS;
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&t);
    PyBuffer_Release(&b);
    PyBuffer_Release(&o);
    return result;
}

static PyObject *k_undelta(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer o, b;
    int width, sub;
    if (!PyArg_ParseTuple(args, "w*y*ip", &o, &b, &width, &sub)) return NULL;
    PyObject *result = NULL;
    if (o.len != b.len || (width != 1 && width != 2 && width != 4 && width != 8) || o.len % width) {
        PyErr_SetString(PyExc_ValueError, "undelta: bad width or buffer sizes");
        goto done;
    }
    Py_ssize_t n = o.len / width;
    Py_BEGIN_ALLOW_THREADS;
    if (width == 1) delta_dec_8(o.buf, b.buf, n, sub);
    else if (width == 2) delta_dec_16(o.buf, b.buf, n, sub);
    else if (width == 4) delta_dec_32(o.buf, b.buf, n, sub);
    else delta_dec_64(o.buf, b.buf, n, sub);
    Py_END_ALLOW_THREADS;
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&o);
    PyBuffer_Release(&b);
    return result;
}

/* decay(src, factor, steps, dst): each fp32 element of src multiplied by
 * ``factor`` ``steps`` times, rounding after each (what AdamW's decoupled weight
 * decay, p *= 1 - lr * wd, does to a parameter no gradient touched). Elements
 * with an exponent field < 3 (zero, subnormals and their neighbours) or 255
 * (inf, NaN) pass unchanged: with factor**steps >= 0.5 no product is subnormal,
 * so FTZ/DAZ modes cannot change a result. dst may be src. Blocks of 64 keep
 * the multiply loop vectorizable. */
typedef float decay_vf __attribute__((vector_size(32)));
typedef uint32_t decay_vu __attribute__((vector_size(32)));
typedef uint32_t decay_vu_unaligned __attribute__((vector_size(32), aligned(1)));

/* One element: the scalar tail (and the reference the vector loop must match). */
static inline uint32_t decay1(uint32_t x, float c, int steps) {
    float f;
    uint32_t y, e = (x >> 23) & 0xFFu;
    memcpy(&f, &x, 4);
    for (int s = 0; s < steps; s++) f *= c;
    memcpy(&y, &f, 4);
    return e - 3u < 252u ? y : x;
}

static inline decay_vu decay8(decay_vu x, decay_vf f) {
    decay_vu keep = (decay_vu)(((x >> 23) & 0xFFu) - 3u < 252u);
    return ((decay_vu)f & keep) | (x & ~keep);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void decay32(const uint8_t *src, uint8_t *dst, Py_ssize_t n, float c, int steps) {
    Py_ssize_t i = 0;
    for (; i + 32 <= n; i += 32) { /* 4 vectors of 8: independent multiply chains */
        const decay_vu_unaligned *in = (const decay_vu_unaligned *)(src + 4 * i);
        decay_vu_unaligned *out = (decay_vu_unaligned *)(dst + 4 * i);
        decay_vu x0 = in[0], x1 = in[1], x2 = in[2], x3 = in[3];
        decay_vf f0 = (decay_vf)x0, f1 = (decay_vf)x1, f2 = (decay_vf)x2, f3 = (decay_vf)x3;
        for (int s = 0; s < steps; s++) f0 *= c, f1 *= c, f2 *= c, f3 *= c;
        out[0] = decay8(x0, f0);
        out[1] = decay8(x1, f1);
        out[2] = decay8(x2, f2);
        out[3] = decay8(x3, f3);
    }
    for (; i < n; i++) {
        uint32_t x;
        memcpy(&x, src + 4 * i, 4);
        x = decay1(x, c, steps);
        memcpy(dst + 4 * i, &x, 4);
    }
}

static PyObject *k_decay(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer src, dst;
    float c;
    int steps;
    if (!PyArg_ParseTuple(args, "y*fiw*", &src, &c, &steps, &dst)) return NULL;
    PyObject *result = NULL;
    if (src.len != dst.len || src.len % 4 || steps < 0) {
        PyErr_SetString(PyExc_ValueError, "decay: buffers must match, 4-byte elements");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    decay32(src.buf, dst.buf, src.len / 4, c, steps);
    Py_END_ALLOW_THREADS;
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return result;
}

/* join_apply(planes, width, sub, dst): dst holds the base; each element becomes
 * base + unzigzag(joined delta) ("sub") or base ^ joined delta, in one pass.
 * Restores a delta frame on top of its base without a second buffer. */
#define JOIN_APPLY_LOOP(T, W)                                                       \
    static void join_apply_##W(const uint8_t *const *p, uint8_t *dst, Py_ssize_t n, \
                               int sub) {                                           \
        for (Py_ssize_t i = 0; i < n; i++) {                                        \
            T z = 0, y;                                                             \
            for (int b = 0; b < W; b++) z |= (T)((T)p[b][i] << (8 * b));            \
            memcpy(&y, dst + (Py_ssize_t)W * i, W);                                 \
            T x = sub ? (T)((T)((T)(z >> 1) ^ (T)(0 - (T)(z & 1))) + y) : (T)(z ^ y);\
            memcpy(dst + (Py_ssize_t)W * i, &x, W);                                 \
        }                                                                           \
    }
JOIN_APPLY_LOOP(uint8_t, 1)
JOIN_APPLY_LOOP(uint16_t, 2)
JOIN_APPLY_LOOP(uint32_t, 4)
JOIN_APPLY_LOOP(uint64_t, 8)

#if defined(__SSE2__)
/* join_apply_4 for "sub", 16 elements per step (GCC's vectorization of the
 * generic loop ran at ~0.5 ns per element, this at ~0.27). */
static void join_apply_4_sub(const uint8_t *const *p, uint8_t *dst, Py_ssize_t n) {
    const uint8_t *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
    const __m128i one = _mm_set1_epi32(1), zero = _mm_setzero_si128();
    Py_ssize_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i z[4];
        unpack4x16(p0 + i, p1 + i, p2 + i, p3 + i, z);
        uint8_t *o = dst + 4 * i;
        for (int k = 0; k < 4; k++) {
            const __m128i sign = _mm_sub_epi32(zero, _mm_and_si128(z[k], one));
            const __m128i delta = _mm_xor_si128(_mm_srli_epi32(z[k], 1), sign);
            __m128i *at = (__m128i *)(void *)(o + 16 * k);
            _mm_storeu_si128(at, _mm_add_epi32(_mm_loadu_si128(at), delta));
        }
    }
    if (i < n) {
        const uint8_t *rest[4] = {p0 + i, p1 + i, p2 + i, p3 + i};
        join_apply_4(rest, dst + 4 * i, n - i, 1);
    }
}
#endif

static PyObject *k_join_apply(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *seq;
    int width, sub;
    Py_buffer dst;
    if (!PyArg_ParseTuple(args, "Oipw*", &seq, &width, &sub, &dst)) return NULL;
    PyObject *result = NULL;
    Py_buffer planes[8];
    const uint8_t *ptrs[8];
    Py_ssize_t got = 0, count = PySequence_Size(seq);
    if ((width != 1 && width != 2 && width != 4 && width != 8) || count != width ||
        dst.len % width) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "join_apply: bad width, plane count or size");
        goto done;
    }
    Py_ssize_t n = dst.len / width;
    if (get_planes(seq, width, n, planes, ptrs, &got, "join_apply") < 0) goto done;
    Py_BEGIN_ALLOW_THREADS;
    if (width == 1) join_apply_1(ptrs, dst.buf, n, sub);
    else if (width == 2) join_apply_2(ptrs, dst.buf, n, sub);
#if defined(__SSE2__)
    else if (width == 4 && sub) join_apply_4_sub(ptrs, dst.buf, n);
#endif
    else if (width == 4) join_apply_4(ptrs, dst.buf, n, sub);
    else join_apply_8(ptrs, dst.buf, n, sub);
    Py_END_ALLOW_THREADS;
    result = Py_None;
    Py_INCREF(result);
done:
    for (Py_ssize_t i = 0; i < got; i++) PyBuffer_Release(&planes[i]);
    PyBuffer_Release(&dst);
    return result;
}

/* ---- huff: canonical Huffman (codes <= 11 bits) in 4 interleaved bitstreams.
 * Tokens: 0..255 = that byte; 256 + k - 1 (k = 1..8) = k copies of the plane's
 * ``fill`` byte (its most common one: runs of it then cost a code per 8 bytes).
 * Element i of n goes to stream i / ceil(n/4) (a run never crosses streams);
 * each stream is LSB-first bits, zero-padded to a byte. The decoder looks up
 * 11 bits at a time in a table whose entry holds the bytes of every whole code
 * in them (up to 8 bytes): on low-entropy planes 4-8 bytes per lookup, where
 * zstd's huff0 decodes one or two. */
#define HUFF_MAXLEN 11
#define HUFF_TSIZE (1 << HUFF_MAXLEN)
#define HUFF_TOKENS 264
#define HUFF_RUN 8

/* Struct of arrays: a step's loop-carried chain (lookup -> shift) reads only
 * the 4 KiB ``meta``, and the 16 KiB ``bytes`` load is off it; one 16-byte
 * entry per slot (32 KiB) spilled out of L1 and ran the chain at L2 latency. */
typedef struct {
    uint64_t bytes[HUFF_TSIZE]; /* output of the whole codes in these bits, first byte low */
    uint16_t meta[HUFF_TSIZE];  /* output bytes | bits taken << 8 (HUFF_MAXLEN + 1: no code) */
    uint16_t tok1[HUFF_TSIZE];  /* the first code's token */
    uint8_t len1[HUFF_TSIZE];   /* and its bits (0: none) */
    uint8_t fill;               /* the byte run tokens repeat */
} huff_tables;

/* HUFF_TOKENS code lengths -> bit-reversed canonical codes; 0 when they are no prefix code. */
static int huff_codes_n(const uint8_t *len, uint16_t *code, uint32_t maxlen) {
    uint32_t count[16] = {0}, next[16] = {0}, kraft = 0, c = 0;
    for (int s = 0; s < HUFF_TOKENS; s++) {
        if (len[s] > maxlen) return 0;
        count[len[s]]++;
    }
    count[0] = 0;
    for (uint32_t l = 1; l <= maxlen; l++) {
        kraft += count[l] << (maxlen - l);
        c = (c + count[l - 1]) << 1;
        next[l] = c;
    }
    if (kraft > (1u << maxlen)) return 0;
    for (int s = 0; s < HUFF_TOKENS; s++) {
        uint32_t l = len[s], v = l ? next[l]++ : 0, r = 0;
        for (uint32_t b = 0; b < l; b++) r |= ((v >> b) & 1u) << (l - 1 - b);
        code[s] = (uint16_t)r;
    }
    return 1;
}

static int huff_codes(const uint8_t *len, uint16_t *code) {
    return huff_codes_n(len, code, HUFF_MAXLEN);
}

static inline uint32_t huff_token_size(uint32_t tok) { return tok < 256 ? 1 : tok - 255; }

static inline uint64_t huff_token_bytes(uint32_t tok, uint8_t fill) {
    return tok < 256 ? tok : 0x0101010101010101ULL * fill;
}

/* The one-code-per-slot table both decoders build on: slot j holds the token
 * whose code is j's low len bits (and that length). -> table bits, the
 * longest code. */
static uint32_t first_level(const uint8_t *len, const uint16_t *code, uint16_t *s1,
                            uint8_t *l1) {
    uint32_t tb = 1;
    for (int s = 0; s < HUFF_TOKENS; s++)
        if (len[s] > tb) tb = len[s];
    const uint32_t size = 1u << tb;
    memset(l1, 0, size);
    memset(s1, 0, size * sizeof s1[0]);
    for (int s = 0; s < HUFF_TOKENS; s++) {
        if (!len[s]) continue;
        for (uint32_t j = code[s]; j < size; j += 1u << len[s]) {
            s1[j] = (uint16_t)s;
            l1[j] = len[s];
        }
    }
    return tb;
}

/* -> table bits (the longest code: small planes get small tables), 0 when the
 * lengths are no prefix code. */
static int huff_table(const uint8_t *len, uint8_t fill, huff_tables *t) {
    uint16_t code[HUFF_TOKENS], *s1 = t->tok1;
    uint8_t *l1 = t->len1;
    if (!huff_codes(len, code)) return 0;
    t->fill = fill;
    const uint32_t tb = first_level(len, code, s1, l1), size = 1u << tb;
    for (uint32_t i = 0; i < size; i++) {
        uint64_t bytes = 0;
        uint32_t pos = 0, n = 0;
        for (;;) {
            uint32_t idx = i >> pos, l = l1[idx];
            if (!l || l > tb - pos) break;
            uint32_t k = huff_token_size(s1[idx]);
            if (n + k > 8) break;
            uint64_t b = huff_token_bytes(s1[idx], fill) & (k == 8 ? ~0ULL : (1ULL << (8 * k)) - 1);
            bytes |= b << (8 * n);
            n += k;
            pos += l;
        }
        t->bytes[i] = bytes;
        t->meta[i] = (uint16_t)(n | (n ? pos : HUFF_MAXLEN + 1) << 8);
    }
    return (int)tb;
}

static void huff_bounds(Py_ssize_t n, int q, Py_ssize_t *lo, Py_ssize_t *hi) {
    Py_ssize_t m = (n + 3) / 4;
    *lo = q * m < n ? q * m : n;
    *hi = (q + 1) * m < n ? (q + 1) * m : n;
}

/* Calls EMIT(token) for the tokens of src[lo..hi). */
#define HUFF_TOKENIZE(src, lo, hi, fill, EMIT)                                      \
    do {                                                                            \
        Py_ssize_t i_ = (lo);                                                       \
        while (i_ < (hi)) {                                                         \
            if ((src)[i_] != (fill)) {                                              \
                uint32_t tok = (src)[i_++];                                         \
                EMIT;                                                               \
                continue;                                                           \
            }                                                                       \
            Py_ssize_t j_ = i_ + 1;                                                 \
            while (j_ < (hi) && j_ - i_ < HUFF_RUN && (src)[j_] == (fill)) j_++;    \
            uint32_t tok = (uint32_t)(255 + (j_ - i_));                             \
            i_ = j_;                                                                \
            EMIT;                                                                   \
        }                                                                           \
    } while (0)

/* -> bytes written (sizes[4] per stream), -1 when a token has no code. out
 * needs (11 n + 7) / 8 + 4 + 8 bytes (each write stores 8). */
/* Codes appended LSB-first to a byte stream; the output needs 8 bytes of slack
 * (each put stores a whole word and advances by the bytes it completed). */
typedef struct {
    uint8_t *p;
    uint64_t acc;
    uint32_t n;
} bit_writer;

static inline void bits_put(bit_writer *w, uint32_t code, uint32_t len) {
    w->acc |= (uint64_t)code << w->n;
    w->n += len;
    memcpy(w->p, &w->acc, 8);
    w->p += w->n >> 3;
    w->acc >>= w->n & ~7u;
    w->n &= 7;
}

/* The stream's last partial byte; the writer starts the next stream byte-aligned. */
static inline void bits_flush(bit_writer *w) {
    if (w->n) *w->p++ = (uint8_t)w->acc;
    w->acc = 0;
    w->n = 0;
}

static Py_ssize_t huff_encode4(const uint8_t *src, Py_ssize_t n, uint8_t fill, const uint8_t *len,
                               const uint16_t *code, uint8_t *out, Py_ssize_t *sizes) {
    bit_writer w = {out, 0, 0};
    for (int q = 0; q < 4; q++) {
        Py_ssize_t lo, hi;
        huff_bounds(n, q, &lo, &hi);
        uint8_t *start = w.p;
        int bad = 0;
        HUFF_TOKENIZE(src, lo, hi, fill, {
            bad |= !len[tok];
            bits_put(&w, code[tok], len[tok]);
        });
        if (bad) return -1;
        bits_flush(&w);
        sizes[q] = w.p - start;
    }
    return w.p - out;
}

#define HUFF_STEP(s, pos, o)                                                        \
    do {                                                                            \
        uint64_t v_;                                                                \
        memcpy(&v_, (s) + ((pos) >> 3), 8);                                         \
        const uint32_t i_ = (uint32_t)((v_ >> ((pos) & 7)) & mask), m_ = meta[i_];  \
        memcpy((o), &bytes[i_], 8);                                                 \
        (o) += m_ & 0xFF;                                                           \
        (pos) += m_ >> 8;                                                           \
    } while (0)

/* One step from a bit buffer b (the stream's bits from pos on). */
#define HUFF_BSTEP(b, pos, o)                                                       \
    do {                                                                            \
        const uint32_t i_ = (uint32_t)((b) & mask), m_ = meta[i_];                  \
        memcpy((o), &bytes[i_], 8);                                                 \
        (o) += m_ & 0xFF;                                                           \
        (b) >>= m_ >> 8;                                                            \
        (pos) += m_ >> 8;                                                           \
    } while (0)

/* 1 when the four streams (sizes[q] bytes each, back to back) decode to n bytes
 * and use their bytes exactly; 0 on corrupt input (out then holds garbage). */
static int huff_decode4(const uint8_t *src, const Py_ssize_t *sizes, const huff_tables *t,
                        int tb, uint8_t *out, Py_ssize_t n) {
    const uint64_t mask = ((uint64_t)1 << tb) - 1;
    const uint64_t *bytes = t->bytes;
    const uint16_t *meta = t->meta;
    const uint8_t *s[4];
    uint64_t pos[4] = {0, 0, 0, 0}, lim[4];
    uint8_t *o[4], *e[4];
    Py_ssize_t off = 0;
    for (int q = 0; q < 4; q++) {
        Py_ssize_t lo, hi;
        huff_bounds(n, q, &lo, &hi);
        s[q] = src + off;
        off += sizes[q];
        /* a fast step reads 8 bytes at pos/8: allowed while pos/8 + 8 <= size */
        lim[q] = sizes[q] >= 8 ? (uint64_t)(sizes[q] - 8) * 8 + 7 : 0;
        o[q] = out + lo;
        e[q] = out + hi;
    }
    if (lim[0] >= 128 && lim[1] >= 128 && lim[2] >= 128 && lim[3] >= 128) {
        /* lockstep, 4 steps per stream from one 64-bit read (>= 57 bits, each
         * step <= 12): the loop-carried chain is table lookup -> shift */
        const uint8_t *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3];
        uint64_t p0 = pos[0], p1 = pos[1], p2 = pos[2], p3 = pos[3];
        const uint64_t m = 4 * (HUFF_MAXLEN + 1), l0 = lim[0] - m, l1 = lim[1] - m,
                       l2 = lim[2] - m, l3 = lim[3] - m;
        uint8_t *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];
        while (p0 <= l0 && p1 <= l1 && p2 <= l2 && p3 <= l3 && e[0] - o0 >= 32 &&
               e[1] - o1 >= 32 && e[2] - o2 >= 32 && e[3] - o3 >= 32) {
            uint64_t b0, b1, b2, b3;
            memcpy(&b0, s0 + (p0 >> 3), 8);
            memcpy(&b1, s1 + (p1 >> 3), 8);
            memcpy(&b2, s2 + (p2 >> 3), 8);
            memcpy(&b3, s3 + (p3 >> 3), 8);
            b0 >>= p0 & 7, b1 >>= p1 & 7, b2 >>= p2 & 7, b3 >>= p3 & 7;
            for (int r = 0; r < 4; r++) {
                HUFF_BSTEP(b0, p0, o0);
                HUFF_BSTEP(b1, p1, o1);
                HUFF_BSTEP(b2, p2, o2);
                HUFF_BSTEP(b3, p3, o3);
            }
        }
        pos[0] = p0, pos[1] = p1, pos[2] = p2, pos[3] = p3;
        o[0] = o0, o[1] = o1, o[2] = o2, o[3] = o3;
    }
    for (int q = 0; q < 4; q++) {
        uint64_t p = pos[q], bits = (uint64_t)sizes[q] * 8;
        uint8_t *w = o[q];
        if (sizes[q] >= 8)
            while (p <= lim[q] && e[q] - w >= 8) HUFF_STEP(s[q], p, w);
        while (w < e[q]) { /* the tail: one code at a time, reads and writes bounded */
            uint64_t v = 0;
            Py_ssize_t b = (Py_ssize_t)(p >> 3);
            if (p < bits) memcpy(&v, s[q] + b, sizes[q] - b < 8 ? (size_t)(sizes[q] - b) : 8);
            const uint32_t idx = (uint32_t)((v >> (p & 7)) & mask), tok = t->tok1[idx],
                           len1 = t->len1[idx], n1 = huff_token_size(tok);
            if (!len1 || (uint64_t)(e[q] - w) < n1) return 0;
            const uint64_t b1 = huff_token_bytes(tok, t->fill);
            memcpy(w, &b1, n1);
            w += n1;
            p += len1;
            if (p > bits) return 0;
        }
        if ((p + 7) / 8 != (uint64_t)sizes[q]) return 0;
    }
    return 1;
}

/* huff_lengths(counts (u64 LE), limit) -> bytes: Huffman code lengths, none
 * longer than ``limit`` (two-queue Huffman over the weights sorted ascending,
 * ties by token; then JPEG Annex K.3 limiting; the most frequent tokens get
 * the shortest codes). Same result as huffman.code_lengths' Python twin. */
static int cmp_weight(const void *a, const void *b) {
    const uint64_t *x = a, *y = b; /* (weight, token) pairs */
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static PyObject *k_huff_lengths(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer cb;
    int limit;
    if (!PyArg_ParseTuple(args, "y*i", &cb, &limit)) return NULL;
    Py_ssize_t m = cb.len / 8;
    PyObject *result = NULL;
    if (cb.len % 8 || m > 512 || limit < 1 || limit > 15) {
        PyErr_SetString(PyExc_ValueError, "huff_lengths: bad counts or limit");
        goto done;
    }
    uint64_t pairs[512][2], w[1024];
    int parent[1024], depth[1024], k = 0;
    uint8_t out[512];
    memset(out, 0, sizeof out);
    for (Py_ssize_t i = 0; i < m; i++) {
        uint64_t c;
        memcpy(&c, (const uint8_t *)cb.buf + 8 * i, 8);
        if (c) pairs[k][0] = c, pairs[k][1] = (uint64_t)i, k++;
    }
    if ((1 << limit) < k) {
        PyErr_SetString(PyExc_ValueError, "huff_lengths: limit too small for the tokens");
        goto done;
    }
    if (k == 1) out[pairs[0][1]] = 1;
    if (k > 1) {
        qsort(pairs, (size_t)k, sizeof pairs[0], cmp_weight);
        for (int i = 0; i < k; i++) w[i] = pairs[i][0];
        int leaf = 0, merged = k;
        for (int node = k; node < 2 * k - 1; node++) {
            int pick[2];
            for (int j = 0; j < 2; j++) {
                if (leaf < k && (merged >= node || w[leaf] <= w[merged])) pick[j] = leaf++;
                else pick[j] = merged++;
            }
            w[node] = w[pick[0]] + w[pick[1]];
            parent[pick[0]] = parent[pick[1]] = node;
        }
        depth[2 * k - 2] = 0;
        int count[64] = {0}, maxd = 0;
        for (int node = 2 * k - 3; node >= 0; node--) depth[node] = depth[parent[node]] + 1;
        for (int i = 0; i < k; i++) {
            int d = depth[i] < 63 ? depth[i] : 63;
            count[d]++;
            if (d > maxd) maxd = d;
        }
        for (int i = maxd; i > limit; i--) { /* JPEG K.3 */
            while (count[i] > 0) {
                int j = i - 2;
                while (count[j] == 0) j--;
                count[i] -= 2;
                count[i - 1] += 1;
                count[j + 1] += 2;
                count[j] -= 1;
            }
        }
        int pos = k - 1; /* most frequent first */
        for (int len = 1; len <= limit; len++)
            for (int c = 0; c < count[len]; c++) out[pairs[pos--][1]] = (uint8_t)len;
    }
    result = PyBytes_FromStringAndSize((const char *)out, m);
done:
    PyBuffer_Release(&cb);
    return result;
}

/* huff_hist(plane, fill) -> bytes: HUFF_TOKENS little-endian uint64 token counts. */
static PyObject *k_huff_hist(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer plane;
    int fill;
    if (!PyArg_ParseTuple(args, "y*i", &plane, &fill)) return NULL;
    uint64_t c[HUFF_TOKENS];
    memset(c, 0, sizeof c);
    const uint8_t *src = plane.buf;
    uint8_t f = (uint8_t)fill;
    Py_BEGIN_ALLOW_THREADS;
    for (int q = 0; q < 4; q++) {
        Py_ssize_t lo, hi;
        huff_bounds(plane.len, q, &lo, &hi);
        HUFF_TOKENIZE(src, lo, hi, f, { c[tok]++; });
    }
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&plane);
    return PyBytes_FromStringAndSize((const char *)c, sizeof c);
}

/* huff_encode(plane, fill, lengths[264], out) -> (size0, size1, size2, size3) */
static PyObject *k_huff_encode(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer plane, lens, out;
    int fill;
    if (!PyArg_ParseTuple(args, "y*iy*w*", &plane, &fill, &lens, &out)) return NULL;
    PyObject *result = NULL;
    uint16_t code[256];
    Py_ssize_t sizes[4], got;
    if (lens.len != HUFF_TOKENS || out.len < (HUFF_MAXLEN * plane.len + 7) / 8 + 12) {
        PyErr_SetString(PyExc_ValueError, "huff_encode: bad lengths or output size");
        goto done;
    }
    if (!huff_codes(lens.buf, code)) {
        PyErr_SetString(PyExc_ValueError, "huff_encode: lengths are no prefix code");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    got = huff_encode4(plane.buf, plane.len, (uint8_t)fill, lens.buf, code, out.buf, sizes);
    Py_END_ALLOW_THREADS;
    if (got < 0) {
        PyErr_SetString(PyExc_ValueError, "huff_encode: a token of the plane has no code");
        goto done;
    }
    result = Py_BuildValue("(nnnn)", sizes[0], sizes[1], sizes[2], sizes[3]);
done:
    PyBuffer_Release(&plane);
    PyBuffer_Release(&lens);
    PyBuffer_Release(&out);
    return result;
}

/* huff_decode(streams, (size0..size3), fill, lengths[264], out): ValueError when corrupt. */
static PyObject *k_huff_decode(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer src, lens, out;
    Py_ssize_t sizes[4];
    int fill;
    if (!PyArg_ParseTuple(args, "y*(nnnn)iy*w*", &src, &sizes[0], &sizes[1], &sizes[2],
                          &sizes[3], &fill, &lens, &out))
        return NULL;
    PyObject *result = NULL;
    huff_tables *t = NULL;
    int ok = 0;
    if (lens.len != HUFF_TOKENS || sizes[0] < 0 || sizes[1] < 0 || sizes[2] < 0 || sizes[3] < 0 ||
        sizes[0] + sizes[1] + sizes[2] + sizes[3] != src.len) {
        PyErr_SetString(PyExc_ValueError, "huff_decode: bad lengths or stream sizes");
        goto done;
    }
    t = PyMem_RawMalloc(sizeof(huff_tables));
    if (t == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    int tb = huff_table(lens.buf, (uint8_t)fill, t);
    ok = tb && huff_decode4(src.buf, sizes, t, tb, out.buf, out.len);
    Py_END_ALLOW_THREADS;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "huff_decode: corrupt stream");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_RawFree(t);
    PyBuffer_Release(&src);
    PyBuffer_Release(&lens);
    PyBuffer_Release(&out);
    return result;
}

/* ---- huff16: the same Huffman machinery over 16-bit elements (a bf16/fp16
 * delta, zigzag-coded): token 0 = escape (the element comes from a side list of
 * u16), 1..247 = that value, 248 + k = a run of H16_RUN[k] zero elements. An
 * entry covers up to 4 non-zero elements plus runs (<= 255 elements), so the
 * fused decoder adds a whole entry onto the base with one 64-bit SWAR add and
 * skips zero runs without touching memory: the delta is never materialized. */
#define H16_LIT 248
/* 4-bit packed code lengths (low nibble first) -> HUFF_TOKENS lengths. */
static void unpack_lengths(const uint8_t *packed, uint8_t *lengths) {
    for (int i = 0; i < HUFF_TOKENS / 2; i++) {
        lengths[2 * i] = packed[i] & 15;
        lengths[2 * i + 1] = packed[i] >> 4;
    }
}

static const uint16_t H16_RUN[16] = {1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 48, 64, 96, 128};
static uint8_t h16_run_token[129]; /* largest k with H16_RUN[k] <= L */

static void h16_init(void) {
    int k = 0;
    for (int L = 1; L <= 128; L++) {
        while (k < 15 && H16_RUN[k + 1] <= L) k++;
        h16_run_token[L] = (uint8_t)k;
    }
}

/* Codes up to 12 bits (one more element per lookup than 11) in a table of 8-byte
 * entries: 32 KiB, the size of an 11-bit table of 16-byte ones. */
#define H16_MAXLEN 12
#define H16_TSIZE (1 << H16_MAXLEN)

typedef struct {
    uint32_t v;   /* 4 lanes of 8 bits: values < 248 (materialize, XOR) or int8 deltas (ADD) */
    uint8_t n;    /* elements covered */
    uint8_t bits; /* bits taken (H16_MAXLEN + 1: no valid code) */
    uint8_t esc;  /* lane of an escape (its value from the side list), 255: none */
    uint8_t pad;
} h16_entry;

typedef struct {
    h16_entry t[H16_TSIZE];
    uint16_t tok1[H16_TSIZE]; /* the first code's token and bits, for the tail */
    uint8_t len1[H16_TSIZE];
} h16_tables;

#define H16_MATERIALIZE 0
#define H16_ADD 1
#define H16_XOR 2

static inline uint16_t unzigzag16(uint16_t z) { return (uint16_t)((z >> 1) ^ (0u - (z & 1u))); }

static inline uint64_t swar_add16(uint64_t a, uint64_t b) {
    const uint64_t H = 0x8000800080008000ULL;
    return ((a & ~H) + (b & ~H)) ^ ((a ^ b) & H);
}

/* 4 lanes of 8 bits -> 4 lanes of 16, zero- or sign-extended (scalar twins). */
static inline uint64_t widen8(uint32_t v) {
    return (uint64_t)(v & 0xFF) | ((uint64_t)((v >> 8) & 0xFF) << 16) |
           ((uint64_t)((v >> 16) & 0xFF) << 32) | ((uint64_t)(v >> 24) << 48);
}

static inline uint64_t widen8_signed(uint32_t v) {
    uint64_t x = 0;
    for (int i = 0; i < 4; i++) x |= (uint64_t)(uint16_t)(int16_t)(int8_t)(v >> (8 * i)) << (16 * i);
    return x;
}

/* *(4 x u16 at o) (+= sign-extended | ^= zero-extended | = zero-extended) the
 * 4 byte lanes of v: a few SSE2 instructions where there is SSE2. */
static inline void put16x4(uint8_t *o, uint32_t v, int mode) {
#if defined(__SSE2__)
    __m128i x = _mm_cvtsi32_si128((int)v);
    if (mode == H16_ADD) {
        x = _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8);
        x = _mm_add_epi16(x, _mm_loadl_epi64((const __m128i *)(const void *)o));
    } else {
        x = _mm_unpacklo_epi8(x, _mm_setzero_si128());
        if (mode == H16_XOR) x = _mm_xor_si128(x, _mm_loadl_epi64((const __m128i *)(const void *)o));
    }
    _mm_storel_epi64((__m128i *)(void *)o, x);
#else
    uint64_t a = 0;
    if (mode != H16_MATERIALIZE) memcpy(&a, o, 8);
    if (mode == H16_ADD) a = swar_add16(a, widen8_signed(v));
    else a ^= widen8(v);
    memcpy(o, &a, 8);
#endif
}

/* The decode table for codes no longer than the longest present (tb bits, at
 * most HUFF_MAXLEN: small chunks get small tables, cheap to build). -> tb, 0
 * when the lengths are no prefix code. */
static int h16_table(const uint8_t *len, int mode, h16_tables *tab) {
    uint16_t code[HUFF_TOKENS], *s1 = tab->tok1;
    uint8_t *l1 = tab->len1;
    if (!huff_codes_n(len, code, H16_MAXLEN)) return 0;
    const uint32_t tb = first_level(len, code, s1, l1), size = 1u << tb;
    for (uint32_t i = 0; i < size; i++) {
        h16_entry e;
        memset(&e, 0, sizeof e);
        e.esc = 255;
        uint32_t pos = 0;
        for (;;) {
            uint32_t idx = i >> pos, l = l1[idx], tok = s1[idx];
            if (!l || l > tb - pos) break;
            if (tok >= H16_LIT) {
                uint32_t run = H16_RUN[tok - H16_LIT];
                if (e.n + run > 255) break;
                e.n = (uint8_t)(e.n + run);
                pos += l;
                continue;
            }
            if (e.n >= 4) break;
            uint8_t x = (uint8_t)tok; /* < 248: as int8 after un-zigzag, |x| <= 124 */
            if (mode == H16_ADD) x = (uint8_t)(int8_t)(int16_t)unzigzag16(x);
            if (tok == 0) e.esc = e.n;
            else e.v |= (uint32_t)x << (8 * e.n);
            e.n++;
            pos += l;
            if (tok == 0) break; /* one escape per entry */
        }
        e.bits = e.n ? (uint8_t)pos : H16_MAXLEN + 1;
        tab->t[i] = e;
    }
    return (int)tb;
}

/* Calls EMIT(tok) for the run tokens of ``len`` zero elements (huff16, huff32). */
#define H16_RUNS_OF(len, EMIT)                                                      \
    do {                                                                            \
        Py_ssize_t L_ = (len);                                                      \
        while (L_ > 0) {                                                            \
            uint32_t k_ = h16_run_token[L_], tok = H16_LIT + k_;                    \
            EMIT;                                                                   \
            L_ -= H16_RUN[k_];                                                      \
        }                                                                           \
    } while (0)

/* Calls EMIT(tok) for the tokens of z[lo..hi) and ESC(value) before an escape. */
#define H16_TOKENIZE(z, lo, hi, EMIT, ESC)                                          \
    do {                                                                            \
        Py_ssize_t i_ = (lo);                                                       \
        while (i_ < (hi)) {                                                         \
            uint16_t v_;                                                            \
            memcpy(&v_, (z) + 2 * i_, 2);                                           \
            if (v_) {                                                               \
                uint32_t tok = v_ < H16_LIT ? v_ : 0;                               \
                if (!tok) ESC(v_);                                                  \
                EMIT;                                                               \
                i_++;                                                               \
                continue;                                                           \
            }                                                                       \
            Py_ssize_t j_ = i_ + 1;                                                 \
            while (j_ < (hi) && j_ - i_ < 128 && (z)[2 * j_] == 0 && (z)[2 * j_ + 1] == 0) j_++; \
            H16_RUNS_OF(j_ - i_, EMIT);                                             \
            i_ = j_;                                                                \
        }                                                                           \
    } while (0)

/* NAME(z) -> 264 token counts (u64) of the W-byte elements z over the 4 streams
 * (what the escapes / raw bits add follows from the counts). */
#define TOKEN_HIST(NAME, W, TOKENIZE, NO_EXTRA)                                     \
    static PyObject *NAME(PyObject *self, PyObject *args) {                        \
        (void)self;                                                                 \
        Py_buffer zb;                                                               \
        if (!PyArg_ParseTuple(args, "y*", &zb)) return NULL;                        \
        if (zb.len % (W)) {                                                         \
            PyBuffer_Release(&zb);                                                  \
            PyErr_SetString(PyExc_ValueError, #NAME ": not whole elements");        \
            return NULL;                                                            \
        }                                                                           \
        uint64_t c[HUFF_TOKENS];                                                    \
        memset(c, 0, sizeof c);                                                     \
        const uint8_t *z = zb.buf;                                                  \
        Py_ssize_t n = zb.len / (W);                                                \
        Py_BEGIN_ALLOW_THREADS;                                                     \
        for (int q = 0; q < 4; q++) {                                               \
            Py_ssize_t lo, hi;                                                      \
            huff_bounds(n, q, &lo, &hi);                                            \
            TOKENIZE(z, lo, hi, { c[tok]++; }, NO_EXTRA);                           \
        }                                                                           \
        Py_END_ALLOW_THREADS;                                                       \
        PyBuffer_Release(&zb);                                                      \
        return PyBytes_FromStringAndSize((const char *)c, sizeof c);               \
    }
#define H16_NOESC(v) (void)(v)
TOKEN_HIST(k_h16_hist, 2, H16_TOKENIZE, H16_NOESC)

/* h16_encode(z, lengths[264], out, escapes) -> (4 stream sizes, 4 escape counts).
 * out: (11 n + 7) / 8 + 12 bytes; escapes: 2 n bytes (u16 LE, stream by stream). */
static PyObject *k_h16_encode(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer zb, lens, out, escb;
    if (!PyArg_ParseTuple(args, "y*y*w*w*", &zb, &lens, &out, &escb)) return NULL;
    PyObject *result = NULL;
    uint16_t code[HUFF_TOKENS];
    Py_ssize_t n = zb.len / 2, sizes[4], counts[4];
    int bad = 0;
    if (zb.len % 2 || lens.len != HUFF_TOKENS || out.len < (H16_MAXLEN * n + 7) / 8 + 12 ||
        escb.len < 2 * n) {
        PyErr_SetString(PyExc_ValueError, "h16_encode: bad buffer sizes");
        goto done;
    }
    if (!huff_codes_n(lens.buf, code, H16_MAXLEN)) {
        PyErr_SetString(PyExc_ValueError, "h16_encode: lengths are no prefix code");
        goto done;
    }
    const uint8_t *z = zb.buf, *len = lens.buf;
    uint8_t *ep = escb.buf;
    bit_writer w = {out.buf, 0, 0};
    Py_BEGIN_ALLOW_THREADS;
    for (int q = 0; q < 4; q++) {
        Py_ssize_t lo, hi;
        huff_bounds(n, q, &lo, &hi);
        uint8_t *start = w.p, *estart = ep;
#define H16_PUTESC(v) do { memcpy(ep, &(v), 2); ep += 2; } while (0)
        H16_TOKENIZE(z, lo, hi, {
            bad |= !len[tok];
            bits_put(&w, code[tok], len[tok]);
        }, H16_PUTESC);
        bits_flush(&w);
        sizes[q] = w.p - start;
        counts[q] = (ep - estart) / 2;
    }
    Py_END_ALLOW_THREADS;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "h16_encode: a token has no code");
        goto done;
    }
    result = Py_BuildValue("(nnnnnnnn)", sizes[0], sizes[1], sizes[2], sizes[3], counts[0],
                           counts[1], counts[2], counts[3]);
done:
    PyBuffer_Release(&zb);
    PyBuffer_Release(&lens);
    PyBuffer_Release(&out);
    PyBuffer_Release(&escb);
    return result;
}

static inline void h16_put(uint8_t *o, uint16_t z, int mode) {
    uint16_t y;
    if (mode == H16_MATERIALIZE) {
        memcpy(o, &z, 2);
        return;
    }
    memcpy(&y, o, 2);
    y = mode == H16_ADD ? (uint16_t)(y + unzigzag16(z)) : (uint16_t)(y ^ z);
    memcpy(o, &y, 2);
}

#define H16_MARGIN (2 * 255 + 8)

/* Apply entry h at o (its 4 lanes, runs skipped or zeroed), taking an escape
 * from (ep, ec); sets ok = 0 on a missing escape. */
#define H16_APPLY(h_, o, ep, ec)                                                    \
    do {                                                                            \
        put16x4((o), (h_)->v, mode);                                                \
        if (mode == H16_MATERIALIZE && __builtin_expect((h_)->n > 4, 0))            \
            memset((o) + 8, 0, 2 * (size_t)((h_)->n - 4));                          \
        if (__builtin_expect((h_)->esc != 255, 0)) {                                \
            if ((ec) <= 0) {                                                        \
                ok = 0;                                                             \
                break;                                                              \
            }                                                                       \
            uint16_t z_;                                                            \
            memcpy(&z_, (ep), 2);                                                   \
            (ep) += 2;                                                              \
            (ec)--;                                                                 \
            h16_put((o) + 2 * (h_)->esc, z_, mode);                                 \
        }                                                                           \
        (o) += 2 * (size_t)(h_)->n;                                                 \
    } while (0)

/* One fast step of stream (s, pos, o, ep, ec): 8 bytes read at pos/8. */
#define H16_STEP(s, pos, o, ep, ec)                                                 \
    do {                                                                            \
        uint64_t v_;                                                                \
        memcpy(&v_, (s) + ((pos) >> 3), 8);                                         \
        const h16_entry *h_ = &t[(v_ >> ((pos) & 7)) & mask];                       \
        H16_APPLY(h_, o, ep, ec);                                                   \
        (pos) += h_->bits;                                                          \
    } while (0)

/* One step from a bit buffer b (the stream's bits from pos on). */
#define H16_BSTEP(b, pos, o, ep, ec)                                                \
    do {                                                                            \
        const h16_entry *h_ = &t[(b) & mask];                                       \
        H16_APPLY(h_, o, ep, ec);                                                   \
        (b) >>= h_->bits;                                                           \
        (pos) += h_->bits;                                                          \
    } while (0)

/* The four streams in lockstep, 2 steps each per bounds check, state in
 * registers; stops near any stream's end (the caller finishes each one). */
static inline __attribute__((always_inline)) int h16_joint(
    const uint8_t *const *s, uint64_t *pos, const uint64_t *lim, uint8_t **o, uint8_t *const *e,
    const uint8_t **ep, Py_ssize_t *ec, const h16_entry *t, const uint64_t mask, const int mode) {
    const uint8_t *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3];
    uint64_t p0 = pos[0], p1 = pos[1], p2 = pos[2], p3 = pos[3];
    const uint64_t l0 = lim[0] - 4 * (H16_MAXLEN + 1), l1 = lim[1] - 4 * (H16_MAXLEN + 1),
                   l2 = lim[2] - 4 * (H16_MAXLEN + 1), l3 = lim[3] - 4 * (H16_MAXLEN + 1);
    uint8_t *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];
    uint8_t *const e0 = e[0], *const e1 = e[1], *const e2 = e[2], *const e3 = e[3];
    int ok = 1;
    while (p0 <= l0 && p1 <= l1 && p2 <= l2 && p3 <= l3 && e0 - o0 >= 4 * H16_MARGIN &&
           e1 - o1 >= 4 * H16_MARGIN && e2 - o2 >= 4 * H16_MARGIN &&
           e3 - o3 >= 4 * H16_MARGIN) {
        /* 4 steps from one 64-bit read per stream (>= 57 bits, each step <= 13):
         * the loop-carried chain is table lookup -> shift, no stream load */
        uint64_t b0, b1, b2, b3;
        memcpy(&b0, s0 + (p0 >> 3), 8);
        memcpy(&b1, s1 + (p1 >> 3), 8);
        memcpy(&b2, s2 + (p2 >> 3), 8);
        memcpy(&b3, s3 + (p3 >> 3), 8);
        b0 >>= p0 & 7, b1 >>= p1 & 7, b2 >>= p2 & 7, b3 >>= p3 & 7;
        for (int r = 0; r < 4; r++) {
            H16_BSTEP(b0, p0, o0, ep[0], ec[0]);
            H16_BSTEP(b1, p1, o1, ep[1], ec[1]);
            H16_BSTEP(b2, p2, o2, ep[2], ec[2]);
            H16_BSTEP(b3, p3, o3, ep[3], ec[3]);
        }
        if (!ok) break;
    }
    pos[0] = p0, pos[1] = p1, pos[2] = p2, pos[3] = p3;
    o[0] = o0, o[1] = o1, o[2] = o2, o[3] = o3;
    return ok;
}

static int h16_decode4(const uint8_t *src, const Py_ssize_t *sizes, const uint8_t *esc,
                       const Py_ssize_t *ecounts, const h16_tables *tab, int tb, uint8_t *out,
                       Py_ssize_t n, int mode) {
    const h16_entry *t = tab->t;
    const uint64_t mask = ((uint64_t)1 << tb) - 1;
    const uint8_t *s[4], *ep[4];
    Py_ssize_t ec[4];
    uint64_t pos[4] = {0, 0, 0, 0}, lim[4];
    uint8_t *o[4], *e[4];
    Py_ssize_t off = 0, eoff = 0;
    int ok = 1;
    for (int q = 0; q < 4; q++) {
        Py_ssize_t lo, hi;
        huff_bounds(n, q, &lo, &hi);
        s[q] = src + off;
        off += sizes[q];
        ep[q] = esc + 2 * eoff;
        ec[q] = ecounts[q];
        eoff += ecounts[q];
        lim[q] = sizes[q] >= 8 ? (uint64_t)(sizes[q] - 8) * 8 + 7 : 0;
        o[q] = out + 2 * lo;
        e[q] = out + 2 * hi;
    }
    if (lim[0] >= 128 && lim[1] >= 128 && lim[2] >= 128 && lim[3] >= 128) {
        if (mode == H16_ADD) ok = h16_joint(s, pos, lim, o, e, ep, ec, t, mask, H16_ADD);
        else if (mode == H16_XOR) ok = h16_joint(s, pos, lim, o, e, ep, ec, t, mask, H16_XOR);
        else ok = h16_joint(s, pos, lim, o, e, ep, ec, t, mask, H16_MATERIALIZE);
    }
    for (int q = 0; q < 4 && ok; q++) {
        uint64_t p = pos[q], bits = (uint64_t)sizes[q] * 8;
        uint8_t *w = o[q];
        if (sizes[q] >= 8)
            while (ok && p <= lim[q] && e[q] - w >= H16_MARGIN) H16_STEP(s[q], p, w, ep[q], ec[q]);
        while (ok && w < e[q]) { /* the tail: reads and writes bounded */
            uint64_t v = 0;
            Py_ssize_t b = (Py_ssize_t)(p >> 3);
            if (p < bits) memcpy(&v, s[q] + b, sizes[q] - b < 8 ? (size_t)(sizes[q] - b) : 8);
            const h16_entry *h = &t[(v >> (p & 7)) & mask];
            size_t room = (size_t)(e[q] - w);
            if (h->n && p + h->bits <= bits && room >= 8 && room >= 2 * (size_t)h->n) {
                H16_APPLY(h, w, ep[q], ec[q]); /* the whole entry fits */
                p += h->bits;
                continue;
            }
            const uint32_t idx = (uint32_t)((v >> (p & 7)) & mask), tok = tab->tok1[idx],
                           len1 = tab->len1[idx];
            if (!len1) return 0;
            if (tok >= H16_LIT) {
                size_t run = 2 * (size_t)H16_RUN[tok - H16_LIT];
                if ((size_t)(e[q] - w) < run) return 0;
                if (mode == H16_MATERIALIZE) memset(w, 0, run);
                w += run;
            } else {
                uint16_t z = (uint16_t)tok;
                if (e[q] - w < 2) return 0;
                if (!tok) {
                    if (ec[q] <= 0) return 0;
                    memcpy(&z, ep[q], 2);
                    ep[q] += 2;
                    ec[q]--;
                }
                h16_put(w, z, mode);
                w += 2;
            }
            p += len1;
            if (p > bits) return 0;
        }
        if (!ok || w != e[q] || (p + 7) / 8 != (uint64_t)sizes[q] || ec[q] != 0) return 0;
    }
    return ok;
}

/* h16_decode(streams, (4 sizes), escapes, (4 counts), packed lengths[132], out, mode):
 * mode 0 writes the elements, 1 adds their un-zigzagged values onto out, 2 XORs
 * them in; ValueError when corrupt. */
static PyObject *k_h16_decode(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer src, escb, lens, out;
    Py_ssize_t sizes[4], counts[4];
    int mode;
    if (!PyArg_ParseTuple(args, "y*(nnnn)y*(nnnn)y*w*i", &src, &sizes[0], &sizes[1], &sizes[2],
                          &sizes[3], &escb, &counts[0], &counts[1], &counts[2], &counts[3],
                          &lens, &out, &mode))
        return NULL;
    PyObject *result = NULL;
    h16_tables *t = NULL;
    int ok = 0;
    Py_ssize_t total = 0, etotal = 0;
    for (int q = 0; q < 4; q++) {
        if (sizes[q] < 0 || counts[q] < 0) total = -1;
        if (total >= 0) {
            total += sizes[q];
            etotal += counts[q];
        }
    }
    if (lens.len != HUFF_TOKENS / 2 || total != src.len || 2 * etotal != escb.len || out.len % 2 ||
        mode < 0 || mode > 2) {
        PyErr_SetString(PyExc_ValueError, "h16_decode: bad lengths, sizes or mode");
        goto done;
    }
    t = PyMem_RawMalloc(sizeof(h16_tables));
    if (t == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    uint8_t lengths[HUFF_TOKENS];
    unpack_lengths(lens.buf, lengths);
    int tb = h16_table(lengths, mode, t);
    ok = tb && h16_decode4(src.buf, sizes, escb.buf, counts, t, tb, out.buf, out.len / 2, mode);
    Py_END_ALLOW_THREADS;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "h16_decode: corrupt stream");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_RawFree(t);
    PyBuffer_Release(&src);
    PyBuffer_Release(&escb);
    PyBuffer_Release(&lens);
    PyBuffer_Release(&out);
    return result;
}

/* ---------------------------------------------------------------- huff32
 * A 4-byte delta (fp32 zigzag differences, or XORs) coded whole, not as byte
 * planes: token 1..222 = that value, 223 + j = a value of bit length
 * b = 8 + j whose b - 1 bits below the leading one follow its code in the
 * stream, raw (as DEFLATE's extra bits), 248 + k = a run of H16_RUN[k] zero
 * elements; token 0 is unused. The table's entries are h16's: up to 4 small
 * values (int8 lanes) plus runs and at most one class escape, last; so
 * restoring adds a whole entry onto the base with one SSE2 add, takes an
 * escape's bits from the same 64-bit read, and never materializes the delta
 * or joins byte planes. */
#define H32_LIT 223
#define H32_CLASS_BITS 7 /* token H32_LIT carries b - 1 = 7 raw bits */
#define H32_STEP_BITS (H16_MAXLEN + 31) /* an entry's codes and its escape's bits */

/* 16 bytes, so that an escape costs a shift, an AND and an OR: the decoder is
 * instruction-bound on deltas where most elements are escapes. */
typedef struct {
    uint32_t v;    /* 4 lanes of 8 bits: values (materialize, XOR) or int8 deltas (ADD) */
    uint32_t lead; /* an escape's leading one (1 << its raw bits), 0: no escape */
    uint32_t emask; /* its raw bits' mask */
    uint8_t n;     /* elements covered */
    uint8_t bits;  /* code bits taken (H16_MAXLEN + 1: no valid code) */
    uint8_t step;  /* code bits and the escape's raw bits */
    uint8_t esc4;  /* byte offset of the escape's lane */
} h32_entry;

typedef struct {
    h32_entry t[H16_TSIZE];
    uint8_t step[H16_TSIZE]; /* t[i].step again: the loop-carried chain (read -> lookup
                              * -> advance) then reads 4 KiB, not the 64 KiB table */
    uint16_t tok1[H16_TSIZE];
    uint8_t len1[H16_TSIZE];
} h32_tables;

static inline uint32_t unzigzag32(uint32_t z) { return (z >> 1) ^ (0u - (z & 1u)); }

/* *(4 x u32 at o) (+= sign-extended | ^= zero-extended | = zero-extended) the 4
 * byte lanes of v. */
static inline void put32x4(uint8_t *o, uint32_t v, int mode) {
#if defined(__SSE2__)
    __m128i x = _mm_cvtsi32_si128((int)v);
    if (mode == H16_ADD) {
        x = _mm_unpacklo_epi8(x, x);
        x = _mm_srai_epi32(_mm_unpacklo_epi16(x, x), 24);
        x = _mm_add_epi32(x, _mm_loadu_si128((const __m128i *)(const void *)o));
    } else {
        x = _mm_unpacklo_epi8(x, _mm_setzero_si128());
        x = _mm_unpacklo_epi16(x, _mm_setzero_si128());
        if (mode == H16_XOR) x = _mm_xor_si128(x, _mm_loadu_si128((const __m128i *)(const void *)o));
    }
    _mm_storeu_si128((__m128i *)(void *)o, x);
#else
    uint32_t a[4];
    memcpy(a, o, 16);
    for (int i = 0; i < 4; i++) {
        uint32_t lane = (v >> (8 * i)) & 0xFF;
        if (mode == H16_ADD) a[i] += (uint32_t)(int32_t)(int8_t)lane;
        else if (mode == H16_XOR) a[i] ^= lane;
        else a[i] = lane;
    }
    memcpy(o, a, 16);
#endif
}

static inline void h32_put(uint8_t *o, uint32_t z, int mode) {
    uint32_t y;
    if (mode == H16_MATERIALIZE) {
        memcpy(o, &z, 4);
        return;
    }
    memcpy(&y, o, 4);
    y = mode == H16_ADD ? y + unzigzag32(z) : y ^ z;
    memcpy(o, &y, 4);
}

static int h32_table(const uint8_t *len, int mode, h32_tables *tab) {
    uint16_t code[HUFF_TOKENS], *s1 = tab->tok1;
    uint8_t *l1 = tab->len1;
    if (len[0] || !huff_codes_n(len, code, H16_MAXLEN)) return 0;
    const uint32_t tb = first_level(len, code, s1, l1), size = 1u << tb;
    for (uint32_t i = 0; i < size; i++) {
        h32_entry e;
        memset(&e, 0, sizeof e);
        uint32_t pos = 0, ebits = 0;
        for (;;) {
            uint32_t idx = i >> pos, l = l1[idx], tok = s1[idx];
            if (!l || l > tb - pos) break;
            if (tok >= H16_LIT) {
                uint32_t run = H16_RUN[tok - H16_LIT];
                if (e.n + run > 255) break;
                e.n = (uint8_t)(e.n + run);
                pos += l;
                continue;
            }
            if (e.n >= 4) break;
            if (tok >= H32_LIT) { /* a class escape ends the entry: its raw bits follow */
                ebits = H32_CLASS_BITS + tok - H32_LIT;
                e.esc4 = (uint8_t)(4 * e.n);
                e.lead = 1u << ebits;
                e.emask = e.lead - 1;
                e.n++;
                pos += l;
                break;
            }
            uint8_t x = (uint8_t)tok; /* 1..222: as int8 after un-zigzag, |x| <= 111 */
            if (mode == H16_ADD) x = (uint8_t)(int8_t)(int32_t)unzigzag32(x);
            e.v |= (uint32_t)x << (8 * e.n);
            e.n++;
            pos += l;
        }
        e.bits = e.n ? (uint8_t)pos : H16_MAXLEN + 1;
        e.step = (uint8_t)(e.bits + ebits);
        tab->t[i] = e;
        tab->step[i] = e.step;
    }
    return (int)tb;
}

/* Calls EMIT(tok) for the tokens of the u32 elements z[lo..hi), and
 * RAW(bits, nbits) after a class token. */
#define H32_TOKENIZE(z, lo, hi, EMIT, RAW)                                          \
    do {                                                                            \
        Py_ssize_t i_ = (lo);                                                       \
        while (i_ < (hi)) {                                                         \
            uint32_t v_;                                                            \
            memcpy(&v_, (z) + 4 * i_, 4);                                           \
            if (v_) {                                                               \
                i_++;                                                               \
                if (v_ < H32_LIT) {                                                 \
                    uint32_t tok = v_;                                              \
                    EMIT;                                                           \
                    continue;                                                       \
                }                                                                   \
                uint32_t nb_ = 31u - (uint32_t)__builtin_clz(v_); /* b - 1 */       \
                uint32_t tok = H32_LIT + nb_ - H32_CLASS_BITS;                      \
                EMIT;                                                               \
                RAW(v_ ^ (1u << nb_), nb_);                                         \
                continue;                                                           \
            }                                                                       \
            Py_ssize_t j_ = i_ + 1;                                                 \
            while (j_ < (hi) && j_ - i_ < 128) {                                    \
                uint32_t w_;                                                        \
                memcpy(&w_, (z) + 4 * j_, 4);                                       \
                if (w_) break;                                                      \
                j_++;                                                               \
            }                                                                       \
            H16_RUNS_OF(j_ - i_, EMIT);                                             \
            i_ = j_;                                                                \
        }                                                                           \
    } while (0)

#define H32_NORAW(b, nb) (void)(b)
TOKEN_HIST(k_h32_hist, 4, H32_TOKENIZE, H32_NORAW)

/* h32_encode(z, lengths[264], out) -> 4 stream sizes; out: (43 n + 7) / 8 + 12 bytes. */
static PyObject *k_h32_encode(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer zb, lens, out;
    if (!PyArg_ParseTuple(args, "y*y*w*", &zb, &lens, &out)) return NULL;
    PyObject *result = NULL;
    uint16_t code[HUFF_TOKENS];
    Py_ssize_t n = zb.len / 4, sizes[4];
    int bad = 0;
    if (zb.len % 4 || lens.len != HUFF_TOKENS || out.len < (H32_STEP_BITS * n + 7) / 8 + 12) {
        PyErr_SetString(PyExc_ValueError, "h32_encode: bad buffer sizes");
        goto done;
    }
    if (((const uint8_t *)lens.buf)[0] || !huff_codes_n(lens.buf, code, H16_MAXLEN)) {
        PyErr_SetString(PyExc_ValueError, "h32_encode: lengths are no prefix code");
        goto done;
    }
    const uint8_t *z = zb.buf, *len = lens.buf;
    bit_writer w = {out.buf, 0, 0};
    Py_BEGIN_ALLOW_THREADS;
    for (int q = 0; q < 4; q++) {
        Py_ssize_t lo, hi;
        huff_bounds(n, q, &lo, &hi);
        uint8_t *start = w.p;
#define H32_PUTRAW(b, nb) bits_put(&w, (b), (nb))
        H32_TOKENIZE(z, lo, hi, {
            bad |= !len[tok];
            bits_put(&w, code[tok], len[tok]);
        }, H32_PUTRAW);
        bits_flush(&w);
        sizes[q] = w.p - start;
    }
    Py_END_ALLOW_THREADS;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "h32_encode: a token has no code");
        goto done;
    }
    result = Py_BuildValue("(nnnn)", sizes[0], sizes[1], sizes[2], sizes[3]);
done:
    PyBuffer_Release(&zb);
    PyBuffer_Release(&lens);
    PyBuffer_Release(&out);
    return result;
}

#define H32_MARGIN (4 * 255 + 16)

/* Apply the entry h_ read from bits x_ at o: its 4 lanes (zero lanes skipped
 * when adding or XORing: an fp32 delta is mostly escapes, and a 16-byte load
 * over the last entry's stores would stall store forwarding), then its escape. */
#define H32_APPLY(h_, x_, o)                                                        \
    do {                                                                            \
        if (mode == H16_MATERIALIZE || (h_)->v) put32x4((o), (h_)->v, mode);        \
        if (mode == H16_MATERIALIZE && __builtin_expect((h_)->n > 4, 0))            \
            memset((o) + 16, 0, 4 * (size_t)((h_)->n - 4));                         \
        if ((h_)->lead)                                                             \
            h32_put((o) + (h_)->esc4,                                               \
                    ((uint32_t)((x_) >> (h_)->bits) & (h_)->emask) | (h_)->lead, mode); \
        (o) += 4 * (size_t)(h_)->n;                                                 \
    } while (0)

/* One step of a stream: 8 bytes read at pos / 8 (>= 57 bits: an entry's codes
 * and its escape's bits). */
#define H32_STEP(s, pos, o)                                                         \
    do {                                                                            \
        uint64_t x_;                                                                \
        memcpy(&x_, (s) + ((pos) >> 3), 8);                                         \
        x_ >>= (pos) & 7;                                                           \
        const uint32_t i_ = (uint32_t)(x_ & mask);                                  \
        (pos) += step[i_];                                                          \
        const h32_entry *h_ = &t[i_];                                               \
        H32_APPLY(h_, x_, o);                                                       \
    } while (0)

static inline __attribute__((always_inline)) void h32_joint(const uint8_t *const *s,
                                                            uint64_t *pos, const uint64_t *lim,
                                                            uint8_t **o, uint8_t *const *e,
                                                            const h32_entry *t,
                                                            const uint8_t *step,
                                                            const uint64_t mask, const int mode) {
    const uint8_t *s0 = s[0], *s1 = s[1], *s2 = s[2], *s3 = s[3];
    uint64_t p0 = pos[0], p1 = pos[1], p2 = pos[2], p3 = pos[3];
    const uint64_t l0 = lim[0] - 2 * H32_STEP_BITS, l1 = lim[1] - 2 * H32_STEP_BITS,
                   l2 = lim[2] - 2 * H32_STEP_BITS, l3 = lim[3] - 2 * H32_STEP_BITS;
    uint8_t *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];
    uint8_t *const e0 = e[0], *const e1 = e[1], *const e2 = e[2], *const e3 = e[3];
    while (p0 <= l0 && p1 <= l1 && p2 <= l2 && p3 <= l3 && e0 - o0 >= 2 * H32_MARGIN &&
           e1 - o1 >= 2 * H32_MARGIN && e2 - o2 >= 2 * H32_MARGIN &&
           e3 - o3 >= 2 * H32_MARGIN) {
        for (int k = 0; k < 2; k++) {
            H32_STEP(s0, p0, o0);
            H32_STEP(s1, p1, o1);
            H32_STEP(s2, p2, o2);
            H32_STEP(s3, p3, o3);
        }
    }
    pos[0] = p0, pos[1] = p1, pos[2] = p2, pos[3] = p3;
    o[0] = o0, o[1] = o1, o[2] = o2, o[3] = o3;
}

static int h32_decode4(const uint8_t *src, const Py_ssize_t *sizes, const h32_tables *tab,
                       int tb, uint8_t *out, Py_ssize_t n, int mode) {
    const h32_entry *t = tab->t;
    const uint8_t *step = tab->step;
    const uint64_t mask = ((uint64_t)1 << tb) - 1;
    const uint8_t *s[4];
    uint64_t pos[4] = {0, 0, 0, 0}, lim[4];
    uint8_t *o[4], *e[4];
    Py_ssize_t off = 0;
    for (int q = 0; q < 4; q++) {
        Py_ssize_t lo, hi;
        huff_bounds(n, q, &lo, &hi);
        s[q] = src + off;
        off += sizes[q];
        lim[q] = sizes[q] >= 8 ? (uint64_t)(sizes[q] - 8) * 8 + 7 : 0;
        o[q] = out + 4 * lo;
        e[q] = out + 4 * hi;
    }
    if (lim[0] >= 128 && lim[1] >= 128 && lim[2] >= 128 && lim[3] >= 128) {
        if (mode == H16_ADD) h32_joint(s, pos, lim, o, e, t, step, mask, H16_ADD);
        else if (mode == H16_XOR) h32_joint(s, pos, lim, o, e, t, step, mask, H16_XOR);
        else h32_joint(s, pos, lim, o, e, t, step, mask, H16_MATERIALIZE);
    }
    for (int q = 0; q < 4; q++) {
        uint64_t p = pos[q], bits = (uint64_t)sizes[q] * 8;
        uint8_t *w = o[q];
        while (sizes[q] >= 8 && p <= lim[q] && e[q] - w >= H32_MARGIN)
            H32_STEP(s[q], p, w);
        while (w < e[q]) { /* one code at a time, reads and writes bounded */
            uint64_t v = 0;
            Py_ssize_t b = (Py_ssize_t)(p >> 3);
            if (p < bits) memcpy(&v, s[q] + b, sizes[q] - b < 8 ? (size_t)(sizes[q] - b) : 8);
            v >>= p & 7;
            const uint32_t idx = (uint32_t)(v & mask), tok = tab->tok1[idx],
                           len1 = tab->len1[idx];
            if (!len1) return 0;
            p += len1;
            if (tok >= H16_LIT) {
                size_t run = 4 * (size_t)H16_RUN[tok - H16_LIT];
                if ((size_t)(e[q] - w) < run) return 0;
                if (mode == H16_MATERIALIZE) memset(w, 0, run);
                w += run;
            } else {
                uint32_t z = tok;
                if (e[q] - w < 4) return 0;
                if (tok >= H32_LIT) { /* its raw bits: up to 31, maybe past this 8-byte read */
                    const uint32_t nb = H32_CLASS_BITS + tok - H32_LIT;
                    uint64_t r = 0;
                    Py_ssize_t rb = (Py_ssize_t)(p >> 3);
                    if (p + nb > bits) return 0;
                    memcpy(&r, s[q] + rb, sizes[q] - rb < 8 ? (size_t)(sizes[q] - rb) : 8);
                    z = (1u << nb) | (uint32_t)((r >> (p & 7)) & ((1ull << nb) - 1));
                    p += nb;
                }
                h32_put(w, z, mode);
                w += 4;
            }
            if (p > bits) return 0;
        }
        if (w != e[q] || (p + 7) / 8 != (uint64_t)sizes[q]) return 0;
    }
    return 1;
}

/* h32_decode(streams, (4 sizes), packed lengths[132], out, mode): mode 0 writes
 * the elements, 1 adds their un-zigzagged values onto out, 2 XORs them in;
 * ValueError when corrupt. */
static PyObject *k_h32_decode(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer src, lens, out;
    Py_ssize_t sizes[4];
    int mode;
    if (!PyArg_ParseTuple(args, "y*(nnnn)y*w*i", &src, &sizes[0], &sizes[1], &sizes[2],
                          &sizes[3], &lens, &out, &mode))
        return NULL;
    PyObject *result = NULL;
    h32_tables *t = NULL;
    int ok = 0;
    Py_ssize_t total = 0;
    for (int q = 0; q < 4; q++) {
        if (sizes[q] < 0) total = -1;
        if (total >= 0) total += sizes[q];
    }
    if (lens.len != HUFF_TOKENS / 2 || total != src.len || out.len % 4 || mode < 0 || mode > 2) {
        PyErr_SetString(PyExc_ValueError, "h32_decode: bad lengths, sizes or mode");
        goto done;
    }
    t = PyMem_RawMalloc(sizeof(h32_tables));
    if (t == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    uint8_t lengths[HUFF_TOKENS];
    unpack_lengths(lens.buf, lengths);
    int tb = h32_table(lengths, mode, t);
    ok = tb && h32_decode4(src.buf, sizes, t, tb, out.buf, out.len / 4, mode);
    Py_END_ALLOW_THREADS;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "h32_decode: corrupt stream");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_RawFree(t);
    PyBuffer_Release(&src);
    PyBuffer_Release(&lens);
    PyBuffer_Release(&out);
    return result;
}

/* empty_bytearray(n): a bytearray whose bytes are NOT zeroed, for outputs that
 * the decoder overwrites entirely (bytearray(n) memsets them first). */
static PyObject *k_empty_bytearray(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "n", &n)) return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "empty_bytearray: negative size");
        return NULL;
    }
    return PyByteArray_FromStringAndSize(NULL, n);
}

static PyMethodDef methods[] = {
    {"empty_bytearray", k_empty_bytearray, METH_VARARGS, "empty_bytearray(n): uninitialized"},
    {"delta", k_delta, METH_VARARGS, "delta(target, base, width, sub, out)"},
    {"decay", k_decay, METH_VARARGS, "decay(src, factor, steps, dst): fp32 decay"},
    {"undelta", k_undelta, METH_VARARGS, "undelta(buf, base, width, sub): in place"},
    {"histogram", k_histogram, METH_VARARGS, "histogram(buf) -> 256 uint64 counts as bytes"},
    {"split", k_split, METH_VARARGS, "split(src, width, rotate, dst): byte planes"},
    {"join", k_join, METH_VARARGS, "join(planes, rotate, dst): inverse of split"},
    {"nib_pack", k_nib_pack, METH_VARARGS, "nib_pack(plane, base, packed, escapes) -> count"},
    {"nib_unpack", k_nib_unpack, METH_VARARGS, "nib_unpack(packed, base, escapes, out)"},
    {"huff_lengths", k_huff_lengths, METH_VARARGS, "huff_lengths(counts, limit) -> lengths"},
    {"huff_hist", k_huff_hist, METH_VARARGS, "huff_hist(plane, fill) -> token counts"},
    {"huff_encode", k_huff_encode, METH_VARARGS, "huff_encode(plane, fill, lengths, out)"},
    {"huff_decode", k_huff_decode, METH_VARARGS, "huff_decode(streams, sizes, fill, lengths, out)"},
    {"h16_hist", k_h16_hist, METH_VARARGS, "h16_hist(z) -> token counts"},
    {"h16_encode", k_h16_encode, METH_VARARGS, "h16_encode(z, lengths, out, escapes)"},
    {"h16_decode", k_h16_decode, METH_VARARGS, "h16_decode(streams, sizes, escapes, counts, lengths, out, mode)"},
    {"h32_hist", k_h32_hist, METH_VARARGS, "h32_hist(z) -> token counts"},
    {"h32_encode", k_h32_encode, METH_VARARGS, "h32_encode(z, lengths, out) -> sizes"},
    {"h32_decode", k_h32_decode, METH_VARARGS, "h32_decode(streams, sizes, lengths, out, mode)"},
    {"join_apply", k_join_apply, METH_VARARGS, "join_apply(planes, width, sub, dst): in place"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels", "Single-pass codec byte transforms.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    h16_init();
    return PyModule_Create(&module);
}
