//===- MBDialect.h - the mb dialect -----------------------------*- C++ -*-===//
#ifndef MBC_DIALECTS_MB_MBDIALECT_H
#define MBC_DIALECTS_MB_MBDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/MB/MBDialect.h.inc"
#include "dialects/MB/MBEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/MB/MBAttrs.h.inc"

#define GET_OP_CLASSES
#include "dialects/MB/MBOps.h.inc"

#endif // MBC_DIALECTS_MB_MBDIALECT_H
