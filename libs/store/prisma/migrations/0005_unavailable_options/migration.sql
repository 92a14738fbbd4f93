-- Why a ladder option cannot be built for its version (e.g. a data-aware rank above the calibration
-- samples); null: available. The planner never offers an unavailable option.
ALTER TABLE "LayerOption" ADD COLUMN "unavailable" TEXT;
