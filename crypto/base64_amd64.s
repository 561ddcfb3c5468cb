//go:build amd64 && !purego

#include "textflag.h"

// Tables of Muła and Lemire's AVX2 base64 decoder ("Faster Base64 Encoding and Decoding
// Using AVX2 Instructions", 2018), 16 bytes each, broadcast to both lanes. A character c
// is outside the alphabet exactly when lutLo[c&15] & lutHi[c>>4] is not zero; in it,
// c + lutRoll[(c>>4) + (c == '/' ? -1 : 0)] is its six bits.
DATA b64LutLo<>+0x00(SB)/8, $0x1111111111111115
DATA b64LutLo<>+0x08(SB)/8, $0x1a1b1b1b1a131111
GLOBL b64LutLo<>(SB), RODATA|NOPTR, $16

DATA b64LutHi<>+0x00(SB)/8, $0x0804080402011010
DATA b64LutHi<>+0x08(SB)/8, $0x1010101010101010
GLOBL b64LutHi<>(SB), RODATA|NOPTR, $16

// 0, 16, 19, 4, -65, -65, -71, -71, then zeros.
DATA b64LutRoll<>+0x00(SB)/8, $0xb9b9bfbf04131000
DATA b64LutRoll<>+0x08(SB)/8, $0x0000000000000000
GLOBL b64LutRoll<>(SB), RODATA|NOPTR, $16

// Each dword's three bytes, big-endian, packed into the first twelve of the lane.
// 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1
DATA b64Pack<>+0x00(SB)/8, $0x090a040506000102
DATA b64Pack<>+0x08(SB)/8, $0xffffffff0c0d0e08
GLOBL b64Pack<>(SB), RODATA|NOPTR, $16

// The two lanes' twelve bytes side by side: dwords 0, 1, 2, 4, 5, 6 (then any).
DATA b64Lanes<>+0x00(SB)/8, $0x0000000100000000
DATA b64Lanes<>+0x08(SB)/8, $0x0000000400000002
DATA b64Lanes<>+0x10(SB)/8, $0x0000000600000005
DATA b64Lanes<>+0x18(SB)/8, $0x0000000700000007
GLOBL b64Lanes<>(SB), RODATA|NOPTR, $32

// BROADCASTD sets every dword of Y to the constant C (through DX and X).
#define BROADCASTD(C, X, Y) \
	MOVL         C, DX; \
	MOVD         DX, X; \
	VPBROADCASTD X, Y

// func decodeBase64AVX2(dst, src *byte, blocks int) int
TEXT ·decodeBase64AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	XORQ AX, AX
	TESTQ CX, CX
	JZ   done

	VBROADCASTI128 b64LutLo<>(SB), Y8
	VBROADCASTI128 b64LutHi<>(SB), Y9
	VBROADCASTI128 b64LutRoll<>(SB), Y10
	BROADCASTD($0x2f2f2f2f, X11, Y11) // '/', and the mask of the nibbles
	BROADCASTD($0x01400140, X12, Y12) // pairs of characters' six bits into twelve (a*64 + b)
	BROADCASTD($0x00011000, X13, Y13) // then pairs of those into 24
	VBROADCASTI128 b64Pack<>(SB), Y14
	VMOVDQU b64Lanes<>(SB), Y15

loop:
	VMOVDQU (SI), Y0
	VPSRLD  $4, Y0, Y1
	VPAND   Y11, Y1, Y1  // high nibbles (bit 5 may be set; VPSHUFB ignores it)
	VPAND   Y11, Y0, Y2  // low nibbles (likewise)
	VPSHUFB Y2, Y8, Y3
	VPSHUFB Y1, Y9, Y4
	VPTEST  Y3, Y4
	JNZ     vzero        // a character outside the alphabet: stop before this group
	VPCMPEQB Y11, Y0, Y5
	VPADDB  Y5, Y1, Y5
	VPSHUFB Y5, Y10, Y5
	VPADDB  Y5, Y0, Y0   // six bits per byte
	VPMADDUBSW Y12, Y0, Y0
	VPMADDWD   Y13, Y0, Y0
	VPSHUFB Y14, Y0, Y0
	VPERMD  Y0, Y15, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, SI
	ADDQ $24, DI
	INCQ AX
	CMPQ AX, CX
	JB   loop

vzero:
	VZEROUPPER

done:
	MOVQ AX, ret+24(FP)
	RET
