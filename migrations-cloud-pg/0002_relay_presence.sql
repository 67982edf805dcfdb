CREATE TABLE "relay_presence" (
	"node" text COLLATE "C" PRIMARY KEY NOT NULL,
	"instance" text COLLATE "C" NOT NULL,
	"generation" bigint NOT NULL,
	"connected_at" text COLLATE "C" NOT NULL
);
