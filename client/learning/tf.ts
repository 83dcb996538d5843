/**
 * The narrow tfjs adapter: one lazy {@link initializeTf} (cpu backend; tfjs-node is not
 * used), the custom polynomial activation layer, registered once for (de)serialisation.
 */
import * as tf from "@tensorflow/tfjs";

export { tf };

let ready: Promise<void> | null = null;

/**
 * Selects the cpu backend (pure JS: identical results in Node and browsers) and enables prod
 * mode (no debug checks, no console banner). Idempotent; safe to call concurrently.
 */
export function initializeTf(): Promise<void> {
  ready ??= (async () => {
    tf.enableProdMode();
    const ok = await tf.setBackend("cpu");
    if (!ok) throw new Error("tfjs: cpu backend unavailable");
    await tf.ready();
  })();
  return ready;
}

/**
 * Element-wise polynomial c0 + c1·x + c2·x² as a weightless layer. `square` is (0, 0, 1).
 * Differentiable (built from tf ops), serialisable as class name "PolyActivation", so
 * models using it load with `tf.loadLayersModel` once this module is imported.
 */
export class PolyActivation extends tf.layers.Layer {
  static className = "PolyActivation";
  readonly coeffs: [number, number, number];

  constructor(config: { coeffs: [number, number, number]; name?: string; trainable?: boolean }) {
    super(config);
    const c = config.coeffs;
    if (!Array.isArray(c) || c.length !== 3 || !c.every(Number.isFinite)) throw new TypeError("PolyActivation: coeffs must be 3 finite numbers");
    this.coeffs = [c[0], c[1], c[2]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const [c0, c1, c2] = this.coeffs;
      let y = tf.mul(tf.square(x), c2);
      if (c1 !== 0) y = tf.add(y, tf.mul(x, c1));
      if (c0 !== 0) y = tf.add(y, c0);
      return y;
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), coeffs: [...this.coeffs] };
  }
}
tf.serialization.registerClass(PolyActivation);
