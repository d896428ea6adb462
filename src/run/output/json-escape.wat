;; Command output as the body of a JSON string (see JsonEscape.ts). Sixteen bytes are checked at once;
;; a clean block is copied whole, and only the bytes that need care (< 0x20, '"', '\', >= 0x80) take
;; the byte path. UTF-8 is checked as TextDecoder checks it (U+FFFD per maximal invalid subpart); a
;; character that runs past the input is left for the caller to complete.
;; Memory (8 pages, 512 KiB): input at 0 (at most 64 KiB), output at 65536 (at most 6 bytes an input
;; byte: 384 KiB), then at 458752 the short escape letter of each control byte and the hex digits.
(module
  (memory (export "memory") 8)
  (global $consumed (export "consumed") (mut i32) (i32.const 0))
  ;; For each control byte: its short escape letter, or 0 for \u00XX. Then the hex digits.
  (data (i32.const 458752)
    "\00\00\00\00\00\00\00\00btn\00fr\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "0123456789abcdef")
;; U+FFFD, as UTF-8, at $at.
  (func $replacement (param $at i32)
    (i32.store16 (local.get $at) (i32.const 0xbfef))
    (i32.store8 offset=2 (local.get $at) (i32.const 0xbd)))
  ;; Escapes input[from, to) into the output area, up to `to` or a character that runs past it.
  ;; Returns the output length; $consumed tells where the input stopped.
  (func (export "escape") (param $from i32) (param $to i32) (result i32)
    (local $i i32) (local $o i32) (local $v v128) (local $mask i32) (local $b i32) (local $letter i32)
    (local $n i32) (local $lo i32) (local $hi i32) (local $skip i32) (local $c i32)
    (local.set $i (local.get $from))
    (local.set $o (i32.const 65536))
    (block $done
      (loop $next
        (if (i32.le_u (i32.add (local.get $i) (i32.const 16)) (local.get $to))
          (then
            (local.set $v (v128.load (local.get $i)))
            ;; A byte needs care when < 0x20, >= 0x80 (negative as i8), '"' or '\'.
            (local.set $mask (i8x16.bitmask
              (v128.or
                (v128.or
                  (i8x16.lt_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                  (i8x16.lt_s (local.get $v) (v128.const i8x16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)))
                (v128.or
                  (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34))
                  (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92))))))
            ;; Store all 16; only the clean ones before the first special count.
            (v128.store (local.get $o) (local.get $v))
            (if (i32.eqz (local.get $mask))
              (then
                (local.set $i (i32.add (local.get $i) (i32.const 16)))
                (local.set $o (i32.add (local.get $o) (i32.const 16)))
                (br $next)))
            (local.set $i (i32.add (local.get $i) (i32.ctz (local.get $mask))))
            (local.set $o (i32.add (local.get $o) (i32.ctz (local.get $mask))))))
        (br_if $done (i32.ge_u (local.get $i) (local.get $to)))
        (local.set $b (i32.load8_u (local.get $i)))
        (if (i32.ge_u (local.get $b) (i32.const 128))
          (then
            ;; How many continuation bytes the lead announces, and the range of the first (WHATWG).
            (local.set $n (i32.const 0))
            (local.set $lo (i32.const 0x80))
            (local.set $hi (i32.const 0xbf))
            (if (i32.ge_u (local.get $b) (i32.const 0xc2))
              (then
                (if (i32.le_u (local.get $b) (i32.const 0xdf))
                  (then (local.set $n (i32.const 1)))
                  (else
                    (if (i32.le_u (local.get $b) (i32.const 0xef))
                      (then
                        (local.set $n (i32.const 2))
                        (if (i32.eq (local.get $b) (i32.const 0xe0)) (then (local.set $lo (i32.const 0xa0))))
                        (if (i32.eq (local.get $b) (i32.const 0xed)) (then (local.set $hi (i32.const 0x9f)))))
                      (else
                        (if (i32.le_u (local.get $b) (i32.const 0xf4))
                          (then
                            (local.set $n (i32.const 3))
                            (if (i32.eq (local.get $b) (i32.const 0xf0)) (then (local.set $lo (i32.const 0x90))))
                            (if (i32.eq (local.get $b) (i32.const 0xf4)) (then (local.set $hi (i32.const 0x8f))))))))))))
            ;; Not a lead byte: one U+FFFD for it.
            (if (i32.eqz (local.get $n))
              (then
                (call $replacement (local.get $o))
                (local.set $o (i32.add (local.get $o) (i32.const 3)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $next)))
            ;; A character that runs past the input is left to the caller.
            (br_if $done (i32.ge_u (i32.add (local.get $i) (local.get $n)) (local.get $to)))
            ;; The first continuation byte that is out of range ends a maximal subpart: one U+FFFD.
            ;; $skip: 0 when valid, else the bytes the U+FFFD stands for.
            (local.set $skip (i32.const 0))
            (local.set $c (i32.load8_u offset=1 (local.get $i)))
            (if (i32.or (i32.lt_u (local.get $c) (local.get $lo)) (i32.gt_u (local.get $c) (local.get $hi)))
              (then (local.set $skip (i32.const 1)))
              (else
                (if (i32.ge_u (local.get $n) (i32.const 2))
                  (then
                    (local.set $c (i32.load8_u offset=2 (local.get $i)))
                    (if (i32.or (i32.lt_u (local.get $c) (i32.const 0x80)) (i32.gt_u (local.get $c) (i32.const 0xbf)))
                      (then (local.set $skip (i32.const 2)))
                      (else
                        (if (i32.ge_u (local.get $n) (i32.const 3))
                          (then
                            (local.set $c (i32.load8_u offset=3 (local.get $i)))
                            (if (i32.or (i32.lt_u (local.get $c) (i32.const 0x80)) (i32.gt_u (local.get $c) (i32.const 0xbf)))
                              (then (local.set $skip (i32.const 3))))))))))))
            (if (i32.eqz (local.get $skip))
              (then
                ;; Valid: copied as it is (4 bytes stored, n + 1 kept).
                (i32.store (local.get $o) (i32.load (local.get $i)))
                (local.set $o (i32.add (local.get $o) (i32.add (local.get $n) (i32.const 1))))
                (local.set $i (i32.add (local.get $i) (i32.add (local.get $n) (i32.const 1))))
                (br $next)))
            ;; Invalid: U+FFFD for the lead and the continuation bytes before the bad one.
            (call $replacement (local.get $o))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $i (i32.add (local.get $i) (local.get $skip)))
            (br $next)))
        (if (i32.lt_u (local.get $b) (i32.const 32))
          (then
            (i32.store8 (local.get $o) (i32.const 92))
            (local.set $letter (i32.load8_u (i32.add (i32.const 458752) (local.get $b))))
            (if (local.get $letter)
              (then
                (i32.store8 offset=1 (local.get $o) (local.get $letter))
                (local.set $o (i32.add (local.get $o) (i32.const 2))))
              (else
                ;; \u00XX
                (i32.store offset=1 (local.get $o) (i32.const 0x30303075))
                (i32.store8 offset=4 (local.get $o)
                  (i32.load8_u (i32.add (i32.const 458784) (i32.shr_u (local.get $b) (i32.const 4)))))
                (i32.store8 offset=5 (local.get $o)
                  (i32.load8_u (i32.add (i32.const 458784) (i32.and (local.get $b) (i32.const 15)))))
                (local.set $o (i32.add (local.get $o) (i32.const 6))))))
          (else
            (if (i32.or (i32.eq (local.get $b) (i32.const 34)) (i32.eq (local.get $b) (i32.const 92)))
              (then
                (i32.store8 (local.get $o) (i32.const 92))
                (i32.store8 offset=1 (local.get $o) (local.get $b))
                (local.set $o (i32.add (local.get $o) (i32.const 2))))
              (else
                (i32.store8 (local.get $o) (local.get $b))
                (local.set $o (i32.add (local.get $o) (i32.const 1)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (global.set $consumed (local.get $i))
    (i32.sub (local.get $o) (i32.const 65536))))
