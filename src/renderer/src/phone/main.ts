import {x25519} from '@noble/curves/ed25519.js'; console.log(x25519.utils.randomSecretKey())
