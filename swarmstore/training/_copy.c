/* Snapshot copy with streaming stores.
 *
 * A background snapshot copies the model and optimizer state into buffers
 * that the training thread will not read again; a save on another thread
 * reads them later. Ordinary stores first read every destination line into
 * the cache (write-allocate) and evict the training loop's own data; streaming
 * (non-temporal) stores write whole lines straight to memory. On a core whose
 * copy is bound by memory bandwidth that is a third less traffic.
 *
 * copy_regions(table, release_gil=True): table is a buffer of native uint64
 * triples (destination address, source address, byte count); every region is
 * copied. The caller guarantees the addresses (tensors it keeps alive, same
 * dtype, contiguous, not overlapping). With release_gil false the GIL is held
 * throughout: a thread that gives it up for a millisecond can wait up to the
 * switch interval (5 ms) to get it back from a thread running Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define HAVE_STREAM 1
#else
#define HAVE_STREAM 0
#endif

/* Below this a region stays in the cache anyway: plain memcpy. */
#define STREAM_MIN ((size_t)1 << 16)

static void copy_region(char *dst, const char *src, size_t n) {
#if HAVE_STREAM
    if (n >= STREAM_MIN) {
        size_t head = (size_t)((16 - ((uintptr_t)dst & 15)) & 15);
        memcpy(dst, src, head);
        dst += head;
        src += head;
        n -= head;
        size_t i = 0;
        for (; i + 64 <= n; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
            _mm_stream_si128((__m128i *)(dst + i), a);
            _mm_stream_si128((__m128i *)(dst + i + 16), b);
            _mm_stream_si128((__m128i *)(dst + i + 32), c);
            _mm_stream_si128((__m128i *)(dst + i + 48), d);
        }
        memcpy(dst + i, src + i, n - i);
        return;
    }
#endif
    memcpy(dst, src, n);
}

static void copy_all(const char *raw, size_t count) {
    for (size_t k = 0; k < count; k++) {
        uint64_t t[3];
        memcpy(t, raw + k * sizeof t, sizeof t);
        copy_region((char *)(uintptr_t)t[0], (const char *)(uintptr_t)t[1], (size_t)t[2]);
    }
#if HAVE_STREAM
    _mm_sfence(); /* streamed lines are visible to the thread that saves them */
#endif
}

static PyObject *copy_regions(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *table;
    int release_gil = 1;
    if (!PyArg_ParseTuple(args, "O|p:copy_regions", &table, &release_gil)) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(table, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (view.len % (3 * (Py_ssize_t)sizeof(uint64_t)) != 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "copy_regions needs (dst, src, nbytes) uint64 triples");
        return NULL;
    }
    size_t count = (size_t)view.len / (3 * sizeof(uint64_t));
    const char *raw = (const char *)view.buf;
    if (release_gil) {
        Py_BEGIN_ALLOW_THREADS
        copy_all(raw, count);
        Py_END_ALLOW_THREADS
    } else {
        copy_all(raw, count);
    }
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"copy_regions", copy_regions, METH_VARARGS,
     "copy_regions(table, release_gil=True): copy (dst, src, nbytes) uint64 triples with "
     "streaming stores"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_copy", "Snapshot copy with streaming stores.", -1, methods,
};

PyMODINIT_FUNC PyInit__copy(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "STREAMING", HAVE_STREAM) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
