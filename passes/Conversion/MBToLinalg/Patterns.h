//===- Patterns.h - the pattern sets of convert-mb-to-linalg ----*- C++ -*-===//
//
// One populate function per op family; MBToLinalg.cpp assembles them into the
// pass. Every pattern rewrites one mb op into linalg/tensor/arith/math ops on
// tensors with the exact semantics of the op's description in MBOps.td.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CONVERSION_MBTOLINALG_PATTERNS_H
#define MBC_PASSES_CONVERSION_MBTOLINALG_PATTERNS_H

#include "mlir/IR/PatternMatch.h"

namespace mbc::mb_to_linalg {

/// mb.embedding, mb.position_embedding (with or without a runtime offset),
/// mb.patchify, mb.start_token, mb.token_shift, mb.token_shift_step,
/// mb.global_to_local, mb.merge_patches.
void populateSequenceLayoutPatterns(mlir::RewritePatternSet &patterns);

/// mb.layer_norm, mb.rms_norm, mb.linear, mb.ffn, mb.head.
void populateLayerPatterns(mlir::RewritePatternSet &patterns);

/// mb.global_attention, mb.local_attention, mb.cached_attention. With
/// `attentionBlock` > 0, attention over at least 2 * attentionBlock positions
/// uses online softmax over blocks of that many queries and keys.
/// With `decodeGemvs`, mb.cached_attention's projections become calls of
/// selected GEMV kernels where the weights are stored in 16 bits.
void populateAttentionPatterns(mlir::RewritePatternSet &patterns,
                               int64_t attentionBlock, bool decodeGemvs);

} // namespace mbc::mb_to_linalg

#endif // MBC_PASSES_CONVERSION_MBTOLINALG_PATTERNS_H
