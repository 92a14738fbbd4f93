-- CreateTable
CREATE TABLE "DeviceClass" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Device" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "deviceClassId" TEXT NOT NULL,
    "factsJson" TEXT NOT NULL,
    "tokenSha256" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Device_deviceClassId_fkey" FOREIGN KEY ("deviceClassId") REFERENCES "DeviceClass" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "DeviceClass_name_key" ON "DeviceClass"("name");

-- CreateIndex
CREATE UNIQUE INDEX "Device_tokenSha256_key" ON "Device"("tokenSha256");

-- CreateIndex
CREATE UNIQUE INDEX "Device_deviceClassId_name_key" ON "Device"("deviceClassId", "name");

