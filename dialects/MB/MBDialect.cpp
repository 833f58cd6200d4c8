//===- MBDialect.cpp - the mb dialect -------------------------------------===//
#include "dialects/MB/MBDialect.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mbc::mb;

#include "dialects/MB/MBDialect.cpp.inc"
#include "dialects/MB/MBEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/MB/MBAttrs.cpp.inc"

void MBDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/MB/MBAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/MB/MBOps.cpp.inc"
      >();
}
